import Testing
@testable import Tollgate
import TollgateTestSupport

/// The sliding log through the store: decisions, what is stored, the sweeper, refunds, tier edits.
@Suite struct SlidingLogStoreTests {
    private static let minute: Int64 = 60_000_000

    private func tier(_ quantity: UInt64, window: Int64 = Self.minute) -> Tier {
        Tier(name: "t", limits: [Limit(name: "x", strategy: .slidingLog, quantity: quantity, windowMicroseconds: window)])
    }

    private func store(_ quantity: UInt64) throws -> (TemporaryStore, IssuedKey) {
        let temporary = try TemporaryStore()
        try temporary.store.setTier(tier(quantity))
        let key = try temporary.store.createKey(NewKey(owner: "acme", tier: "t"))
        return (temporary, key)
    }

    @Test("decisions log each admission; the refused one waits exactly for the oldest to leave; swept at last + W")
    func decisionsThroughTheStore() throws {
        let (temporary, key) = try store(3)
        defer { temporary.remove() }
        let store = temporary.store
        let start = temporary.clock.now().microseconds
        #expect(try store.authorize(key: key.secret).isAllowed)
        temporary.clock.advance(microseconds: 10_000_000)
        #expect(try store.authorize(key: key.secret, cost: 2).isAllowed)
        let refused = try store.authorize(key: key.secret)
        #expect(refused.outcome == .rateLimited)
        #expect(refused.retryAfter == Self.minute - 10_000_000)
        #expect(refused.limits[0].remaining == 0 && refused.limits[0].strategy == .slidingLog)
        #expect(try store.counters().map(\.state) == [.log(entries: [
            SlidingLogEntry(at: start, cost: 1), SlidingLogEntry(at: start + 10_000_000, cost: 2),
        ])])

        // One microsecond before the first entry leaves: still refused; at the instant: allowed.
        temporary.clock.advance(microseconds: Self.minute - 10_000_000 - 1)
        #expect(try store.authorize(key: key.secret).outcome == .rateLimited)
        temporary.clock.advance(microseconds: 1)
        let allowed = try store.authorize(key: key.secret)
        #expect(allowed.isAllowed && allowed.limits[0].remaining == 0)
        let last = temporary.clock.now().microseconds

        // staleAt is the newest entry + W: kept one microsecond before, swept at it.
        #expect(try store.sweep(at: Timestamp(microseconds: last + Self.minute - 1)).counters == 0)
        #expect(try store.sweep(at: Timestamp(microseconds: last + Self.minute)).counters == 1)
        #expect(try store.counters().isEmpty)
    }

    @Test("a refund removes the decision's own entry while it is in the window, and only once")
    func refund() throws {
        let (temporary, key) = try store(2)
        defer { temporary.remove() }
        let store = temporary.store
        let first = try store.authorize(key: key.secret)
        temporary.clock.advance(microseconds: 1_000)
        let second = try store.authorize(key: key.secret)
        #expect(first.isAllowed && second.isAllowed)
        try store.refund(first)
        try store.refund(first)
        #expect(try store.counters().map(\.state) == [.log(entries: [SlidingLogEntry(at: temporary.clock.now().microseconds, cost: 1)])])
        #expect(try store.authorize(key: key.secret).isAllowed)
        #expect(try store.authorize(key: key.secret).outcome == .rateLimited)

        // After the second's entry has left the window, its refund gives nothing to the new ones.
        temporary.clock.advance(microseconds: Self.minute)
        #expect(try store.authorize(key: key.secret, cost: 2).isAllowed)
        try store.refund(second)
        #expect(try store.authorize(key: key.secret).outcome == .rateLimited)
    }

    @Test("a tier edit keeps the log: a lower quantity waits for entries to leave, a higher one admits")
    func tierEdit() throws {
        let (temporary, key) = try store(10)
        defer { temporary.remove() }
        let store = temporary.store
        for _ in 0..<5 {
            #expect(try store.authorize(key: key.secret).isAllowed)
            temporary.clock.advance(microseconds: 1_000_000)
        }
        try store.setTier(tier(3))
        let refused = try store.authorize(key: key.secret)
        #expect(refused.outcome == .rateLimited)
        // 5 logged at 0…4 s, now 5 s: for one more under 3, the entries at 0, 1 and 2 s must leave.
        #expect(refused.retryAfter == 2_000_000 + Self.minute - 5_000_000)
        try store.setTier(tier(6))
        #expect(try store.authorize(key: key.secret).isAllowed)
        #expect(try store.authorize(key: key.secret).outcome == .rateLimited)
        // A window shortened to 2 s counts only the entries of the last 2 s.
        try store.setTier(tier(6, window: 2_000_000))
        #expect(try store.peek(key: key.secret).limits[0].remaining == 4)
    }

    @Test("a quantity above 1,000 is refused with a typed error")
    func quantityBound() throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        do {
            try temporary.store.setTier(tier(1_001))
            Issue.record("a sliding log of 1,001 was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("at most 1000"))
        }
        try temporary.store.setTier(tier(1_000))
    }
}
