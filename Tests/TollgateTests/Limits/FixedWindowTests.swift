import Testing
@testable import Tollgate

@Suite("Fixed window")
struct FixedWindowTests {
    let fivePerTenSeconds = limit(.fixedWindow, quantity: 5, window: 10 * microsecondsPerSecond)

    @Test("the classic double burst: the quantity at the end of one window and again at the start of the next")
    func doubleBurstAtBoundary() {
        var run = LimiterRun(fivePerTenSeconds)
        let lastMicrosecondOfFirstWindow = micros(10 * microsecondsPerSecond - 1)
        #expect(run.admitAll(at: lastMicrosecondOfFirstWindow) == 5)

        let denied = run.request(at: lastMicrosecondOfFirstWindow)
        #expect(denied == LimitCheck(allowed: false, remaining: 0, resetAfter: 1, retryAfter: 1, neverFits: false))

        #expect(run.admitAll(at: seconds(10)) == 5)
        let deniedAgain = run.request(at: seconds(10))
        #expect(deniedAgain.retryAfter == 10 * microsecondsPerSecond)
        #expect(deniedAgain.resetAfter == 10 * microsecondsPerSecond)
    }

    @Test("remaining counts down and resetAfter is the time to the window end")
    func remainingAndReset() {
        var run = LimiterRun(fivePerTenSeconds)
        let checks = (0..<5).map { _ in run.request(at: seconds(23)) }
        #expect(checks.map(\.remaining) == [4, 3, 2, 1, 0])
        #expect(checks.allSatisfy { $0.allowed && $0.resetAfter == 7 * microsecondsPerSecond && $0.retryAfter == 0 })
        #expect(run.state == .window(start: 20 * microsecondsPerSecond, count: 5))
    }

    @Test("a cost that can never fit is denied with neverFits and retryAfter 0")
    func neverFits() {
        let check = fivePerTenSeconds.evaluate(nil, cost: 6, at: seconds(3)).check
        #expect(check == LimitCheck(allowed: false, remaining: 5, resetAfter: 7 * microsecondsPerSecond, retryAfter: 0, neverFits: true))
    }

    @Test("a cost larger than what is left is denied as a whole and consumes nothing")
    func partialFitConsumesNothing() {
        var run = LimiterRun(fivePerTenSeconds)
        run.request(3, at: seconds(1))
        let before = run.state
        let denied = run.request(3, at: seconds(2))
        #expect(!denied.allowed && denied.remaining == 2 && denied.retryAfter == 8 * microsecondsPerSecond)
        #expect(run.state == before)
        #expect(run.request(2, at: seconds(2)).allowed)
    }

    @Test("windows before the epoch are aligned by flooring")
    func negativeTimes() {
        let check = fivePerTenSeconds.evaluate(nil, cost: 1, at: micros(-1))
        #expect(check.state == .window(start: -10 * microsecondsPerSecond, count: 1))
        #expect(check.check.resetAfter == 1)
    }

    @Test("cost 0 is allowed on a full window and changes nothing")
    func zeroCost() {
        var run = LimiterRun(fivePerTenSeconds)
        _ = run.admitAll(at: seconds(1))
        let full = run.state
        let check = run.request(0, at: seconds(2))
        #expect(check.allowed && check.remaining == 0 && check.retryAfter == 0)
        #expect(run.state == full)
    }

    @Test("a count above a lowered quantity still denies, and cost 0 still passes")
    func quantityLoweredBelowStoredCount() {
        let stored = CounterState.window(start: 0, count: 8)
        #expect(fivePerTenSeconds.evaluate(stored, cost: 0, at: seconds(1)).check.allowed)
        let denied = fivePerTenSeconds.evaluate(stored, cost: 1, at: seconds(1)).check
        #expect(!denied.allowed && denied.remaining == 0 && denied.retryAfter == 9 * microsecondsPerSecond)
    }

    @Test("a clock that goes back into an earlier window keeps counting in the later one")
    func clockGoingBackwards() {
        var run = LimiterRun(fivePerTenSeconds)
        #expect(run.admitAll(at: seconds(15)) == 5)
        let denied = run.request(at: seconds(5))
        #expect(!denied.allowed && !denied.neverFits)
        #expect(denied.retryAfter == 15 * microsecondsPerSecond)
        #expect(run.state == .window(start: 10 * microsecondsPerSecond, count: 5))
        #expect(!run.wouldAllow(at: micros(20 * microsecondsPerSecond - 1)))
        #expect(run.wouldAllow(at: seconds(20)))
    }

    @Test("refund gives back within the window, never below zero, never across windows")
    func refund() {
        var run = LimiterRun(fivePerTenSeconds)
        _ = run.admitAll(at: seconds(1))
        run.refund(2, at: seconds(2))
        #expect(run.state == .window(start: 0, count: 3))
        run.refund(10, at: seconds(3))
        #expect(run.state == .window(start: 0, count: 0))
        #expect(run.admitAll(at: seconds(3)) == 5)

        run.refund(5, at: seconds(11))
        #expect(run.state == .window(start: 10 * microsecondsPerSecond, count: 0))
        #expect(fivePerTenSeconds.refund(nil, cost: 3, at: seconds(1)) == nil)
        #expect(fivePerTenSeconds.refund(.gcra(scaledArrival: 7), cost: 3, at: seconds(1)) == nil)
    }

    @Test("stale once the window has ended or the count is zero")
    func staleness() {
        let used = CounterState.window(start: 0, count: 2)
        #expect(!fivePerTenSeconds.isStale(used, at: micros(10 * microsecondsPerSecond - 1)))
        #expect(fivePerTenSeconds.isStale(used, at: seconds(10)))
        #expect(fivePerTenSeconds.isStale(.window(start: 0, count: 0), at: seconds(1)))
        #expect(fivePerTenSeconds.isStale(.bucket(scaledTokens: 1, updated: 0), at: seconds(1)))
        // A later window seen before the clock went back still matters.
        #expect(!fivePerTenSeconds.isStale(.window(start: 20 * microsecondsPerSecond, count: 0), at: seconds(1)))
    }

    @Test("a state of another strategy's case is treated as fresh")
    func foreignState() {
        let (check, state) = fivePerTenSeconds.evaluate(.sliding(start: 0, count: 99, previous: 99), cost: 5, at: seconds(1))
        #expect(check.allowed && check.remaining == 0)
        #expect(state == .window(start: 0, count: 5))
    }
}
