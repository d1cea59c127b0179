import Synchronization
import Tollgate

/// Client addresses refused for too many failed key verifications, and until when: lets the
/// middleware turn a guesser away without a store transaction. Only a shortcut — the counts live
/// in the store (shared by processes, and consulted before every lookup); an entry is added when
/// the store says the budget is spent.
///
/// Bounded, and full only under attack: then expired entries go first, and only when none has
/// expired the block that ends soonest — never every live block at once, which would let a
/// client that cycles through many addresses (one IPv6 /48 holds 65,536 /64 subjects) unblock
/// everybody else.
final class BlockedClients: Sendable {
    private struct Entry {
        var decision: Decision
        var until: Timestamp
    }

    private let blocked = Mutex<[String: Entry]>([:])
    let capacity: Int

    init(capacity: Int = 65_536) { self.capacity = max(1, capacity) }

    var count: Int { blocked.withLock { $0.count } }

    /// The refusal to repeat, while it stands.
    func refusal(for client: String, at now: Timestamp) -> Decision? {
        blocked.withLock { blocked in
            guard let entry = blocked[client] else { return nil }
            if now < entry.until {
                var current = entry.decision
                current.shiftRetry(to: now)
                return current
            }
            blocked[client] = nil
            return nil
        }
    }

    func block(_ client: String, decision: Decision, at now: Timestamp) {
        let entry = Entry(decision: decision, until: decision.at.adding(microseconds: decision.retryAfter ?? 0))
        blocked.withLock { blocked in
            if blocked[client] == nil, blocked.count >= capacity {
                blocked = blocked.filter { now < $0.value.until }
                if blocked.count >= capacity, let soonest = blocked.min(by: { $0.value.until < $1.value.until }) {
                    blocked[soonest.key] = nil
                }
            }
            blocked[client] = entry
        }
    }
}
