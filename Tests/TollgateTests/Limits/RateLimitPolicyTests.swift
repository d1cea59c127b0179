import Testing
@testable import Tollgate

/// `RateLimit-Policy` must announce a quantity the `RateLimit` remaining count never exceeds
/// (draft-ietf-httpapi-ratelimit-headers-11), for every strategy.
@Suite("RateLimit-Policy")
struct RateLimitPolicyTests {
    @Test("a token bucket announces its burst and the time to refill it")
    func tokenBucketAnnouncesBurst() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        // The demo's `pro` tier: 20/second, burst 40.
        try fixture.store.setTier(Tier(name: "pro", limits: [
            try Limit(spec: "second=20/second:token-bucket,burst=40"),
            try Limit(spec: "gcra=20/second:gcra,burst=40"),
            try Limit(spec: "day=100000/day"),
        ]))
        let key = try fixture.key(NewKey(owner: "acme", tier: "pro"))
        let decision = try fixture.store.authorize(key: key.secret, cost: 5)
        // The header strings these become are TollgateHTTPTests' (RateLimitHeaderTests).
        #expect(decision.limits.map(\.policyQuantity) == [40, 40, 100_000])
        #expect(decision.limits.map(\.policyWindowMicroseconds) == [2_000_000, 2_000_000, 86_400_000_000])
        #expect(decision.limits.map(\.remaining) == [35, 35, 99_995])
    }

    @Test("the refill window rounds up and never overflows")
    func refillWindow() throws {
        #expect(try Limit(spec: "x=3/1s:token-bucket,burst=2").rateLimitPolicy(at: seconds(0)) == (2, 666_667))
        #expect(try Limit(spec: "x=3/1s:gcra").rateLimitPolicy(at: seconds(0)) == (3, 1_000_000))
        let huge = Limit(name: "x", strategy: .gcra, quantity: 1, windowMicroseconds: .max, burst: .max)
        #expect(huge.rateLimitPolicy(at: seconds(0)) == (UInt64.max, Int64.max))
        let never = Limit(name: "x", strategy: .tokenBucket, quantity: 0, windowMicroseconds: 1, burst: 4)
        #expect(never.rateLimitPolicy(at: seconds(0)) == (4, Int64.max))
        #expect(try Limit(spec: "x=5/day").rateLimitPolicy(at: seconds(0)) == (5, microsecondsPerDay))
    }

    @Test("remaining never exceeds the announced quantity; a bucket or log is fully available again within the announced window",
          arguments: Strategy.allCases)
    func remainingWithinPolicy(strategy: Strategy) {
        var failures: [String] = []
        for run in 0..<UInt64(1_000) where failures.count < 5 {
            let seed = 0x5EED_0000 &+ run &* 0x100 &+ UInt64(strategy.rawValue)
            var rng = SplitMix64(seed: seed)
            let limit = randomLimit(strategy, using: &rng)
            // A clock that goes backwards stands time still for a bucket, so its reset may lie
            // beyond the window then; the remaining bound holds on any clock.
            let backwards = rng.chance(30)
            for step in simulate(limit, SimulationOptions(refunds: rng.chance(50), backwards: backwards), using: &rng) {
                guard let check = step.check else { continue }
                let policy = limit.rateLimitPolicy(at: Timestamp(microseconds: step.now))
                if check.remaining > policy.quantity {
                    failures.append("seed \(seed), \(limit): r=\(check.remaining) > q=\(policy.quantity)")
                }
                if !backwards, strategy == .tokenBucket || strategy == .gcra || strategy == .slidingLog, check.resetAfter > policy.windowMicroseconds {
                    failures.append("seed \(seed), \(limit): t=\(check.resetAfter) µs > w=\(policy.windowMicroseconds) µs")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }
}
