import Testing
@testable import Tollgate
import TollgateTestSupport

/// `Store.refund`: only what is still in force, at most once, never across strategies.
@Suite struct RefundTests {
    private static let minute: Int64 = 60_000_000

    private func store(_ limits: [Limit], credits: UInt64? = nil) throws -> (TemporaryStore, IssuedKey) {
        let temporary = try TemporaryStore()
        try temporary.store.setTier(Tier(name: "t", limits: limits))
        let key = try temporary.store.createKey(NewKey(owner: "acme", tier: "t", credits: credits))
        return (temporary, key)
    }

    private func allowed(_ store: Store, _ key: IssuedKey, count: Int) throws -> Int {
        var allowed = 0
        for _ in 0..<count where try store.authorize(key: key.secret).isAllowed { allowed += 1 }
        return allowed
    }

    /// Issue 12 item 5: cost consumed in an ended window is not given back to the current one.
    @Test("a refund after its window ended gives nothing to the current window", arguments: [Strategy.fixedWindow, .slidingWindow])
    func endedWindow(strategy: Strategy) throws {
        let (temporary, key) = try store([Limit(name: "x", strategy: strategy, quantity: 3, windowMicroseconds: Self.minute)])
        defer { temporary.remove() }
        let store = temporary.store
        // Minute 0 starts at the clock's start (an epoch-aligned minute).
        let d = try store.authorize(key: key.secret)
        #expect(d.isAllowed)
        // Two windows later: for the sliding window the charged one is no longer even the previous one.
        temporary.clock.advance(microseconds: strategy == .slidingWindow ? 2 * Self.minute : Self.minute)
        #expect(try allowed(store, key, count: 4) == 3)
        try store.refund(d)
        #expect(try store.authorize(key: key.secret).outcome == .rateLimited)
    }

    /// Sliding window: a refund in the next window comes off `previous`, never off the current count.
    @Test func slidingRefundInTheNextWindowComesOffPrevious() throws {
        let (temporary, key) = try store([Limit(name: "x", strategy: .slidingWindow, quantity: 3, windowMicroseconds: Self.minute)])
        defer { temporary.remove() }
        let store = temporary.store
        let d = try store.authorize(key: key.secret)
        temporary.clock.advance(microseconds: Self.minute)
        // previous = 1 weighs fully at the window's start: 2 fit.
        #expect(try allowed(store, key, count: 3) == 2)
        try store.refund(d)
        let counter = try store.counters().first?.state
        #expect(counter == .sliding(start: (temporary.clock.now().microseconds / Self.minute) * Self.minute, count: 2, previous: 0))
        #expect(try allowed(store, key, count: 2) == 1)
    }

    /// Token bucket and GCRA: only what the refill has not repaid since the charge.
    @Test("a bucket refund gives back only what the refill has not repaid", arguments: [Strategy.tokenBucket, .gcra])
    func bucketRepaid(strategy: Strategy) throws {
        let (temporary, key) = try store([Limit(name: "x", strategy: strategy, quantity: 5, windowMicroseconds: Self.minute)])
        defer { temporary.remove() }
        let store = temporary.store
        let first = try store.authorize(key: key.secret, cost: 5)
        #expect(first.isAllowed)
        // A full refill later the bucket is full again and the first charge is repaid.
        temporary.clock.advance(microseconds: Self.minute)
        #expect(try store.authorize(key: key.secret, cost: 5).isAllowed)
        try store.refund(first)
        #expect(try store.authorize(key: key.secret).outcome == .rateLimited)
        // Half a refill after a charge of 5, half of it is still in force.
        temporary.clock.advance(microseconds: Self.minute)
        let second = try store.authorize(key: key.secret, cost: 5)
        #expect(second.isAllowed)
        temporary.clock.advance(microseconds: Self.minute / 2)
        try store.refund(second)
        #expect(try store.peek(key: key.secret).limits[0].remaining == 5)
    }

    /// Issue 12 item 6: at most once, credits included, also after a restart.
    @Test func refundIsIdempotentAcrossReopen() throws {
        let (temporary, key) = try store([Limit(name: "x", strategy: .fixedWindow, quantity: 100, windowMicroseconds: Self.minute)], credits: 5)
        defer { temporary.remove() }
        let d = try temporary.store.authorize(key: key.secret)
        #expect(d.creditsRemaining == 4)
        for _ in 0..<10 { try temporary.store.refund(d) }
        var after = try temporary.store.peek(key: key.secret)
        #expect(after.creditsRemaining == 5)
        #expect(after.limits[0].remaining == 100)
        let reopened = try temporary.reopen()
        try reopened.refund(d)
        after = try reopened.peek(key: key.secret)
        #expect(after.creditsRemaining == 5)
        #expect(after.limits[0].remaining == 100)
        let usage = try reopened.usage(keyID: key.info.id, now: temporary.clock.now())
        #expect(usage.last?.consumed == 0)
    }

    /// Issue 12 item 7: a refund that meets a counter of another strategy changes nothing.
    @Test func refundMeetingAnotherStrategyChangesNothing() throws {
        let (temporary, key) = try store([Limit(name: "x", strategy: .fixedWindow, quantity: 3, windowMicroseconds: Self.minute)])
        defer { temporary.remove() }
        let store = temporary.store
        let d = try store.authorize(key: key.secret)
        try store.setTier(Tier(name: "t", limits: [Limit(name: "x", strategy: .slidingWindow, quantity: 3, windowMicroseconds: Self.minute)]))
        #expect(try allowed(store, key, count: 3) == 3)
        try store.refund(d)
        #expect(try store.authorize(key: key.secret).outcome == .rateLimited)
    }

    /// Refund records are swept once the decision can no longer be refunded, and no earlier.
    @Test func refundRecordsAreSweptAfterTheirHorizon() throws {
        let (temporary, key) = try store([Limit(name: "x", strategy: .fixedWindow, quantity: 3, windowMicroseconds: Self.minute)], credits: 5)
        defer { temporary.remove() }
        let store = temporary.store
        let d = try store.authorize(key: key.secret)
        try store.refund(d)
        #expect(try store.sweep().refunds == 0)
        try store.refund(d)
        #expect(try store.peek(key: key.secret).creditsRemaining == 5)
        // The decision's UTC day is over: the record goes, and a refund now gives nothing back.
        temporary.clock.advance(microseconds: 86_400_000_000)
        #expect(try store.sweep().refunds == 1)
        try store.refund(d)
        #expect(try store.peek(key: key.secret).creditsRemaining == 5)
    }

    /// Issue 12 item 9: `staleAt` saturates instead of wrapping to a negative instant.
    @Test func staleAtSaturates() throws {
        let (temporary, key) = try store([try Limit(spec: "x=1/100000000d:token-bucket,burst=5")])
        defer { temporary.remove() }
        let store = temporary.store
        #expect(try allowed(store, key, count: 5) == 5)
        #expect(try store.sweep().counters == 0)
        #expect(try store.authorize(key: key.secret).outcome == .rateLimited)
    }

    /// Issue 12 item 8: staleness is judged against the limit in force after a tier edit.
    @Test func sweepKeepsACounterALengthenedWindowStillCounts() throws {
        let (temporary, key) = try store([Limit(name: "quota", strategy: .fixedWindow, quantity: 3, windowMicroseconds: 3_600_000_000)])
        defer { temporary.remove() }
        let store = temporary.store
        #expect(try allowed(store, key, count: 3) == 3)
        try store.setTier(Tier(name: "t", limits: [Limit(name: "quota", strategy: .calendarDay, quantity: 3, windowMicroseconds: 86_400_000_000)]))
        #expect(try store.authorize(key: key.secret).outcome == .rateLimited)
        temporary.clock.advance(microseconds: 3_600_000_000)
        #expect(try store.sweep().counters == 0)
        #expect(try store.authorize(key: key.secret).outcome == .rateLimited)
        // Once the day is over the counter goes.
        temporary.clock.advance(microseconds: 86_400_000_000)
        #expect(try store.sweep().counters == 1)
    }
}
