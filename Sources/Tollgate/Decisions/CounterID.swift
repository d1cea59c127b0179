/// Whose counter: a key, an owner, a caller-supplied subject's value, or everyone.
enum CounterSubject: Sendable, Hashable {
    case key(id: String)
    case owner(String)
    case custom(name: String, value: String)
    case global

    /// As a decision's ``Decision/LimitStatus/subject`` shows it.
    public var description: String {
        switch self {
        case .key(let id): "key:\(id)"
        case .owner(let owner): "owner:\(owner)"
        case .custom(let name, let value): "\(name):\(value)"
        case .global: "global"
        }
    }
}


/// A counter's logical identity — whose, and under which name — with no storage bytes in it:
/// each backend maps it to its own key (LMDB: ``CounterSubject/tableKey(limit:)``). Receipts carry
/// these, so a refund can run wherever the counters live.
struct CounterID: Sendable, Hashable {
    var subject: CounterSubject
    /// The limit's name for a tier's limit; `@` + the name for a call site's
    /// (``DecisionCore/callSiteCounterName(_:)``), so the two never share a counter.
    var name: String
}
