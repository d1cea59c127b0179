import Testing
@testable import Tollgate
import TollgateTestSupport

/// Counters carry over a tier edit (same limit name): what the edited limit makes of the old state.
@Suite struct TierEditStateTests {
    private static let second: Int64 = 1_000_000

    private func gcra(_ quantity: UInt64, burst: UInt64? = nil) -> Tier {
        Tier(name: "t", limits: [Limit(name: "x", strategy: .gcra, quantity: quantity, windowMicroseconds: Self.second, burst: burst)])
    }

    /// Issue 12 item 10: lowering a GCRA quantity never yields a retry beyond the new limit's own
    /// worst case (here 1/10 s for a cost of 1), and an arrival time long paid off stays paid off.
    @Test func loweringAGCRAQuantityKeepsRetriesWithinTheNewLimit() throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(gcra(100))
        let key = try store.createKey(NewKey(owner: "acme", tier: "t"))
        #expect(try store.authorize(key: key.secret).isAllowed)
        try store.setTier(gcra(10))
        temporary.clock.advance(microseconds: 10 * Self.second)
        #expect(try store.authorize(key: key.secret).isAllowed)

        // A full burst at the old rate, then the edit: refused at most for the new limit's worst case.
        temporary.clock.advance(microseconds: 10 * Self.second)
        try store.setTier(gcra(100))
        for _ in 0..<100 { #expect(try store.authorize(key: key.secret).isAllowed) }
        try store.setTier(gcra(10))
        let refused = try store.authorize(key: key.secret)
        #expect(refused.outcome == .rateLimited)
        let retry = try #require(refused.retryAfter)
        #expect(retry > 0 && retry <= Self.second / 10)
        temporary.clock.advance(microseconds: retry)
        #expect(try store.authorize(key: key.secret).isAllowed)
    }

    /// With the writer's own quantity, reading through `staleAt` changes nothing.
    @Test func readingWithTheWritersQuantityIsTheIdentity() {
        let limit = Limit(name: "x", strategy: .gcra, quantity: 7, windowMicroseconds: 3 * Self.second, burst: 4)
        var state: CounterState? = nil
        var now = Timestamp(microseconds: 1_767_225_600_000_000)
        for step in 0..<40 {
            let (check, next) = limit.evaluate(state, cost: UInt64(step % 3), at: now)
            if check.allowed {
                let staleAt = now.adding(microseconds: max(check.resetAfter, 0))
                #expect(limit.reading(next, staleAt: staleAt) == next)
                state = next
            }
            now = now.adding(microseconds: Int64(step * 37_123))
        }
    }
}
