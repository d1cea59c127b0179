import Testing
@testable import Tollgate

@Suite("Sliding window")
struct SlidingWindowTests {
    let window = 60 * microsecondsPerSecond
    var tenPerMinute: Limit { limit(.slidingWindow, quantity: 10, window: window) }

    /// 8 admitted in the window [0 s, 60 s), then the clock at 75 s: 15 s into the current window.
    func eightInPreviousWindow() -> LimiterRun {
        var run = LimiterRun(tenPerMinute)
        for _ in 0..<8 { run.request(at: seconds(30)) }
        return run
    }

    @Test("the previous window weighs 8 × 45/60 = 6 at 15 s: 4 more fit")
    func weightedEstimate() {
        var run = eightInPreviousWindow()
        #expect(run.request(0, at: seconds(75)).remaining == 4)
        #expect(run.state == .sliding(start: window, count: 0, previous: 8))

        let checks = (0..<4).map { _ in run.request(at: seconds(75)) }
        #expect(checks.map(\.remaining) == [3, 2, 1, 0])
        #expect(checks.allSatisfy { $0.allowed })
        // The current window's count decays to 0 only at the end of the next window (180 s).
        #expect(checks[3].resetAfter == 105 * microsecondsPerSecond)
    }

    @Test("retryAfter inside the window: 8 × (60 − e) <= 5 × 60 at e = 22.5 s, so 7.5 s after 75 s")
    func retryWhilePreviousDecays() {
        var run = eightInPreviousWindow()
        _ = run.admitAll(at: seconds(75))
        let denied = run.request(at: seconds(75))
        #expect(denied == LimitCheck(allowed: false, remaining: 0, resetAfter: 105 * microsecondsPerSecond, retryAfter: 7_500_000, neverFits: false))
        #expect(!run.wouldAllow(at: micros(82_500_000 - 1)))
        #expect(run.wouldAllow(at: micros(82_500_000)))

        // A fresh cost of 5 on 8 previous at 15 s: 6 + 5 > 10, and the same threshold applies.
        let five = eightInPreviousWindow()
        #expect(five.limit.evaluate(five.state, cost: 5, at: seconds(75)).check.retryAfter == 7_500_000)
        #expect(!five.wouldAllow(5, at: micros(82_500_000 - 1)))
        #expect(five.wouldAllow(5, at: micros(82_500_000)))
    }

    @Test("retryAfter in the next window, where this window's 4 become the decaying previous")
    func retryInNextWindow() {
        var run = eightInPreviousWindow()
        _ = run.admitAll(at: seconds(75))
        // 4 + 7 > 10 in this window; next window: 4 × (60 − e) <= 3 × 60 at e = 15 s, i.e. 135 s.
        let denied = run.request(7, at: seconds(75))
        #expect(!denied.allowed && denied.retryAfter == 60 * microsecondsPerSecond)
        #expect(!run.wouldAllow(7, at: micros(135 * microsecondsPerSecond - 1)))
        #expect(run.wouldAllow(7, at: seconds(135)))
    }

    @Test("retryAfter in the window after next when even a slightly decayed previous blocks the cost")
    func retryAfterTwoWindows() {
        var run = LimiterRun(tenPerMinute)
        #expect(run.admitAll(at: seconds(60)) == 10)
        let denied = run.request(10, at: seconds(61))
        #expect(denied.retryAfter == 119 * microsecondsPerSecond)
        #expect(!run.wouldAllow(10, at: micros(180 * microsecondsPerSecond - 1)))
        #expect(run.wouldAllow(10, at: seconds(180)))
    }

    @Test("no double burst at a window boundary")
    func noDoubleBurst() {
        var run = LimiterRun(tenPerMinute)
        #expect(run.admitAll(at: micros(window - 1)) == 10)
        #expect(run.admitAll(at: micros(window)) == 0)
        // Half-way through the next window the previous 10 weigh 5.
        #expect(run.admitAll(at: seconds(90)) == 5)
    }

    @Test("a gap of two windows or more forgets the previous count")
    func twoWindowGap() {
        var run = eightInPreviousWindow()
        #expect(run.request(0, at: seconds(125)).remaining == 10)
        #expect(run.state == .sliding(start: 2 * window, count: 0, previous: 0))
    }

    @Test("resetAfter: end of the next window with a count, end of this window with only a previous, else 0")
    func resetAfter() {
        #expect(tenPerMinute.evaluate(nil, cost: 0, at: seconds(75)).check.resetAfter == 0)
        let onlyPrevious = eightInPreviousWindow()
        #expect(onlyPrevious.limit.evaluate(onlyPrevious.state, cost: 0, at: seconds(75)).check.resetAfter == 45 * microsecondsPerSecond)
        #expect(tenPerMinute.evaluate(nil, cost: 1, at: seconds(75)).check.resetAfter == 105 * microsecondsPerSecond)
    }

    @Test("cost above the quantity never fits")
    func neverFits() {
        let check = tenPerMinute.evaluate(nil, cost: 11, at: seconds(1)).check
        #expect(!check.allowed && check.neverFits && check.retryAfter == 0 && check.remaining == 10)
    }

    @Test("refund comes off the current count first, then the previous")
    func refund() {
        let state = CounterState.sliding(start: window, count: 3, previous: 8)
        #expect(tenPerMinute.refund(state, cost: 2, at: seconds(70)) == .sliding(start: window, count: 1, previous: 8))
        #expect(tenPerMinute.refund(state, cost: 5, at: seconds(70)) == .sliding(start: window, count: 0, previous: 6))
        #expect(tenPerMinute.refund(state, cost: 50, at: seconds(70)) == .sliding(start: window, count: 0, previous: 0))
    }

    @Test("stale once both windows are empty")
    func staleness() {
        let state = CounterState.sliding(start: 0, count: 3, previous: 0)
        #expect(!tenPerMinute.isStale(state, at: micros(2 * window - 1)))
        #expect(tenPerMinute.isStale(state, at: micros(2 * window)))
    }
}
