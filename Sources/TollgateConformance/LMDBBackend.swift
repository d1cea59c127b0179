public import Tollgate
import TollgateTestSupport

/// The embedded store as a conformance backend: a ``TemporaryStore`` with its manual clock.
///
/// Decisions are synced periodically (an hour apart, so never during a case): the suite checks
/// semantics, not durability, and must run in seconds; the crash suite covers durable mode.
public final class LMDBBackend: ConformanceBackend {
    public let name = "lmdb"
    private let temporary: TemporaryStore
    private var store: Store { temporary.store }

    /// The keyless limit whose throttle makes ``usage(keyID:)`` commit the pending denied counts:
    /// the store writes them with its next commit, and a throttle is the one public commit that
    /// changes nothing a case reads (its counter is left out of ``counters()``).
    private static let flush = Limit(name: "conformance-flush", strategy: .fixedWindow, quantity: 1, windowMicroseconds: 1_000_000, subject: .global)

    public init() throws {
        temporary = try TemporaryStore { options in
            options.durability = .periodic(interval: .seconds(3600))
            options.sweepInterval = nil
        }
        temporary.clock.set(ConformanceClock.start)
    }

    public func now() async -> Timestamp { temporary.clock.now() }
    public func advance(microseconds: Int64) async { temporary.clock.advance(microseconds: microseconds) }

    public func setTier(_ tier: Tier) async throws(TollgateError) { try store.setTier(tier) }

    public func createKey(_ key: NewKey) async throws(TollgateError) -> ConformanceKey {
        let issued = try store.createKey(key)
        return ConformanceKey(id: issued.info.id, secret: issued.secret)
    }

    public func rotateKey(id: String, grace: Duration) async throws(TollgateError) -> ConformanceKey {
        let issued = try store.rotateKey(id: id, grace: grace)
        return ConformanceKey(id: issued.info.id, secret: issued.secret)
    }

    public func revokeKey(id: String) async throws(TollgateError) { try store.revokeKey(id: id) }

    public func authorize(_ request: AuthorizationRequest) async throws(TollgateError) -> Decision {
        try await store.authorize(request)
    }

    public func peek(_ request: AuthorizationRequest) async throws(TollgateError) -> Decision { try store.peek(request) }

    public func throttle(_ limits: [Limit], subjects: [String: String], cost: UInt64) async throws(TollgateError) -> Decision {
        try await store.throttle(limits, subjects: subjects, cost: cost)
    }

    public func refund(_ decision: Decision) async throws(TollgateError) { try store.refund(decision) }

    public func key(id: String) async throws(TollgateError) -> ConformanceKeyState? {
        try store.key(id: id).map { ConformanceKeyState(state: $0.state, credits: $0.credits) }
    }

    public func usage(keyID: String) async throws(TollgateError) -> [DailyUsage] {
        _ = try store.throttle(synchronously: [Self.flush], subjects: [:], cost: 0)
        return try store.usage(keyID: keyID, days: 3660, now: temporary.clock.now())
    }

    public func counters() async throws(TollgateError) -> [ConformanceCounter] {
        try store.counters()
            .filter { $0.limit != "@" + Self.flush.name }
            .map { ConformanceCounter(subject: $0.subject, name: $0.limit, state: $0.state) }
    }

    public func close() async { temporary.remove() }
}
