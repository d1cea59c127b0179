import Testing
@testable import Tollgate

@Suite("GCRA")
struct GCRATests {
    @Test("burst 1 spaces requests by the emission interval (100 ms at 10 per second)")
    func spacing() {
        var run = LimiterRun(limit(.gcra, quantity: 10, burst: 1))
        #expect(run.request(at: seconds(0)).allowed)
        let early = run.request(at: micros(50_000))
        #expect(early == LimitCheck(allowed: false, remaining: 0, resetAfter: 50_000, retryAfter: 50_000, neverFits: false))
        #expect(!run.wouldAllow(at: micros(99_999)))
        #expect(run.request(at: micros(100_000)).allowed)
        #expect(run.request(at: micros(200_000)).allowed)
        #expect(run.state == .gcra(scaledArrival: 300_000 * 10))
    }

    @Test("the tolerance lets the burst through at once, then one per interval")
    func burst() {
        var run = LimiterRun(limit(.gcra, quantity: 10))
        let checks = (0..<10).map { _ in run.request(at: seconds(5)) }
        #expect(checks.map(\.remaining) == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
        #expect(checks.allSatisfy { $0.allowed })
        // TAT is now 6 s: fully available again then.
        #expect(checks[9].resetAfter == microsecondsPerSecond)
        let denied = run.request(at: seconds(5))
        #expect(!denied.allowed && denied.retryAfter == 100_000)
        #expect(run.request(0, at: micros(5_250_000)).remaining == 2)
    }

    @Test("costs move the arrival time by cost × interval")
    func weightedCost() {
        var run = LimiterRun(limit(.gcra, quantity: 4, burst: 4))
        #expect(run.request(3, at: seconds(0)).remaining == 1)
        let denied = run.request(2, at: seconds(0))
        // One unit short; it frees after one interval of 250 ms.
        #expect(!denied.allowed && denied.retryAfter == 250_000 && denied.resetAfter == 750_000)
        #expect(run.request(2, at: micros(250_000)).allowed)
    }

    @Test("a cost above the burst never fits")
    func neverFits() {
        let check = limit(.gcra, quantity: 10, burst: 3).evaluate(nil, cost: 4, at: seconds(0)).check
        #expect(check == LimitCheck(allowed: false, remaining: 3, resetAfter: 0, retryAfter: 0, neverFits: true))
    }

    @Test("one request per microsecond, both as 1 000 000 per second and as 1 per microsecond")
    func onePerMicrosecond() {
        for rate in [limit(.gcra, quantity: 1_000_000, burst: 1), limit(.gcra, quantity: 1, window: 1)] {
            var run = LimiterRun(rate)
            for instant in 0..<Int64(1_000) {
                #expect(run.request(at: micros(instant)).allowed)
                #expect(run.request(at: micros(instant)).retryAfter == 1)
            }
        }
    }

    @Test("a clock that goes backwards only makes the limit stricter")
    func clockGoingBackwards() {
        var run = LimiterRun(limit(.gcra, quantity: 1, burst: 1))
        #expect(run.request(at: seconds(10)).allowed)
        let denied = run.request(at: seconds(5))
        #expect(!denied.allowed && denied.retryAfter == 6 * microsecondsPerSecond)
        #expect(run.wouldAllow(at: seconds(11)))
    }

    @Test("refund moves the arrival time back, never before now")
    func refund() {
        let meter = limit(.gcra, quantity: 10)
        var run = LimiterRun(meter)
        _ = run.admitAll(at: seconds(1))
        // Time is scaled by quantity 10: the burst left the arrival time at 2 s × 10; 4 units are 0.4 s.
        #expect(run.state == .gcra(scaledArrival: 20_000_000))
        run.refund(4, at: seconds(1))
        #expect(run.state == .gcra(scaledArrival: 16_000_000))
        run.refund(100, at: seconds(1))
        #expect(run.state == .gcra(scaledArrival: 10_000_000))
        #expect(meter.refund(nil, cost: 1, at: seconds(1)) == nil)
    }

    @Test("stale once the arrival time has passed")
    func staleness() {
        let meter = limit(.gcra, quantity: 10)
        let state = CounterState.gcra(scaledArrival: 1_000_000 * 10)
        #expect(!meter.isStale(state, at: micros(999_999)))
        #expect(meter.isStale(state, at: seconds(1)))
    }
}
