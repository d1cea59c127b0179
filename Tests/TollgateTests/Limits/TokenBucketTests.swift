import Testing
@testable import Tollgate

@Suite("Token bucket")
struct TokenBucketTests {
    @Test("a fresh bucket is full, and refills one token per 100 ms at 10 per second")
    func fullThenRefill() {
        var run = LimiterRun(limit(.tokenBucket, quantity: 10))
        #expect(run.admitAll(at: seconds(0)) == 10)
        let denied = run.request(at: seconds(0))
        #expect(denied == LimitCheck(allowed: false, remaining: 0, resetAfter: 1_000_000, retryAfter: 100_000, neverFits: false))
        #expect(!run.wouldAllow(at: micros(99_999)))
        #expect(run.request(at: micros(100_000)) == LimitCheck(allowed: true, remaining: 0, resetAfter: 1_000_000, retryAfter: 0, neverFits: false))
    }

    @Test("refill to the microsecond: 3 tokens per second is one token every 333 333.3 µs")
    func fractionalRefill() {
        var run = LimiterRun(limit(.tokenBucket, quantity: 3))
        #expect(run.admitAll(at: seconds(0)) == 3)
        #expect(run.request(at: seconds(0)).retryAfter == 333_334)
        // 3 × 333 333 = 999 999 scaled units: one short of a token.
        #expect(!run.wouldAllow(at: micros(333_333)))
        #expect(run.request(at: micros(333_334)).allowed)
        #expect(run.state == .bucket(scaledTokens: 2, updated: 333_334))
        // The 2 left-over scaled units carry over: the next token needs 999 998 more.
        #expect(run.request(at: micros(333_334)).retryAfter == 333_333)
        #expect(!run.wouldAllow(at: micros(666_666)))
        #expect(run.wouldAllow(at: micros(666_667)))
    }

    @Test("burst sets the capacity; resetAfter is the time until full")
    func burstCapacity() {
        var run = LimiterRun(limit(.tokenBucket, quantity: 1, burst: 5))
        #expect(run.admitAll(at: seconds(100)) == 5)
        #expect(run.request(0, at: seconds(100)).resetAfter == 5 * microsecondsPerSecond)
        #expect(run.request(0, at: micros(102_500_000)).remaining == 2)
        #expect(run.request(0, at: seconds(200)).remaining == 5)
    }

    @Test("a cost above the capacity never fits")
    func neverFits() {
        let check = limit(.tokenBucket, quantity: 1, burst: 5).evaluate(nil, cost: 6, at: seconds(1)).check
        #expect(check == LimitCheck(allowed: false, remaining: 5, resetAfter: 0, retryAfter: 0, neverFits: true))
    }

    @Test("a bucket that never refills (quantity 0) says neverFits once empty")
    func zeroRefill() {
        var run = LimiterRun(limit(.tokenBucket, quantity: 0, burst: 2))
        #expect(run.admitAll(at: seconds(1)) == 2)
        let denied = run.request(at: seconds(1000))
        #expect(!denied.allowed && denied.neverFits && denied.resetAfter == .max)
    }

    @Test("a clock that goes backwards refills nothing until it catches up")
    func clockGoingBackwards() {
        var run = LimiterRun(limit(.tokenBucket, quantity: 1))
        _ = run.admitAll(at: seconds(10))
        let denied = run.request(at: seconds(5))
        #expect(denied.retryAfter == 6 * microsecondsPerSecond)
        #expect(run.state == .bucket(scaledTokens: 0, updated: 10 * microsecondsPerSecond))
        #expect(!run.wouldAllow(at: micros(11 * microsecondsPerSecond - 1)))
        #expect(run.wouldAllow(at: seconds(11)))
    }

    @Test("one token per microsecond, both as 1 000 000 per second and as 1 per microsecond")
    func onePerMicrosecond() {
        for rate in [limit(.tokenBucket, quantity: 1_000_000, burst: 1), limit(.tokenBucket, quantity: 1, window: 1)] {
            var run = LimiterRun(rate)
            for instant in 0..<Int64(1_000) {
                #expect(run.request(at: micros(instant)).allowed)
                #expect(run.request(at: micros(instant)).retryAfter == 1)
            }
        }
    }

    @Test("refund never fills above the capacity; refund of a fresh state stays fresh")
    func refund() {
        let bucket = limit(.tokenBucket, quantity: 10, burst: 4)
        var run = LimiterRun(bucket)
        _ = run.admitAll(at: seconds(0))
        run.refund(3, at: seconds(0))
        #expect(run.state == .bucket(scaledTokens: 3_000_000, updated: 0))
        run.refund(3, at: seconds(0))
        #expect(run.state == .bucket(scaledTokens: 4_000_000, updated: 0))
        #expect(bucket.refund(nil, cost: 3, at: seconds(0)) == nil)
    }

    @Test("stale once full again and not ahead of the clock")
    func staleness() {
        let bucket = limit(.tokenBucket, quantity: 10)
        let empty = CounterState.bucket(scaledTokens: 0, updated: 0)
        #expect(!bucket.isStale(empty, at: micros(999_999)))
        #expect(bucket.isStale(empty, at: seconds(1)))
        #expect(!bucket.isStale(.bucket(scaledTokens: 10_000_000, updated: 5), at: micros(4)))
    }
}
