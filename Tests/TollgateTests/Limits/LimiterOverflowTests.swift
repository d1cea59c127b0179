import Testing
@testable import Tollgate

/// Extreme inputs: none may trap, and the answers must stay coherent.
@Suite("Limiter extremes")
struct LimiterOverflowTests {
    static let quantities: [UInt64] = [0, 1, 1_000_000, .max]
    static let windows: [Int64] = [.min, -1, 0, 1, 86_400_000_000, .max]
    static let bursts: [UInt64?] = [nil, 0, 1, .max]
    static let costs: [UInt64] = [0, 1, .max - 1, .max]
    static let instants: [Int64] = [.min, .min + 1, -1, 0, 1, 1_700_000_000_000_000, .max - 1, .max]
    static let states: [CounterState?] = [
        nil,
        .window(start: .min, count: .max), .window(start: .max, count: 1), .window(start: 0, count: 0),
        .sliding(start: .min, count: .max, previous: .max), .sliding(start: .max, count: .max, previous: 1),
        .sliding(start: 0, count: 1, previous: .max),
        .bucket(scaledTokens: .min, updated: .max), .bucket(scaledTokens: .max, updated: .min),
        .bucket(scaledTokens: 0, updated: 0),
        .gcra(scaledArrival: .min), .gcra(scaledArrival: .max), .gcra(scaledArrival: 0),
        .log(entries: []), .log(entries: [SlidingLogEntry(at: .min, cost: .max), SlidingLogEntry(at: .max, cost: .max)]),
        .log(entries: [SlidingLogEntry(at: .max, cost: 1), SlidingLogEntry(at: 0, cost: 0), SlidingLogEntry(at: 0, cost: .max)]),
    ]

    /// Within these bounds GCRA's 128-bit arrival time never overflows, so it answers as a token
    /// bucket does at every instant of the timeline; past them a new limit is refused.
    @Test func gcraBoundsAreValidated() throws {
        func gcra(_ quantity: UInt64, window: Int64, burst: UInt64? = nil) -> Limit {
            Limit(name: "g", strategy: .gcra, quantity: quantity, windowMicroseconds: window, burst: burst)
        }
        try Validation.limit(gcra(1 << 62, window: 1, burst: 1))
        try Validation.limit(gcra(1_000, window: 1 << 62, burst: 1 << 62))
        #expect(throws: TollgateError.self) { try Validation.limit(gcra((1 << 62) + 1, window: 1, burst: 1)) }
        #expect(throws: TollgateError.self) { try Validation.limit(gcra(1_000, window: .max, burst: .max)) }
        #expect(throws: TollgateError.self) { try Validation.limit(gcra(.max, window: 60_000_000)) }
        // A token bucket has no such bound: it stores tokens, not an absolute time.
        try Validation.limit(Limit(name: "b", strategy: .tokenBucket, quantity: .max, windowMicroseconds: 60_000_000))
        // At the edge of the bounds, at the end of the timeline, a full burst still fits.
        let edge = gcra(1 << 62, window: 1 << 62, burst: 4)
        let (check, _) = edge.evaluate(nil, cost: 4, at: Timestamp(microseconds: .max - 1))
        #expect(check.allowed)
    }

    @Test("every combination of extreme quantity, window, burst, cost, time and state", arguments: Strategy.allCases)
    func noTrapAndCoherent(strategy: Strategy) {
        var incoherent: [String] = []
        for quantity in Self.quantities {
            for window in Self.windows {
                for burst in Self.bursts {
                    let limit = Limit(name: "x", strategy: strategy, quantity: quantity, windowMicroseconds: window, burst: burst)
                    for state in Self.states {
                        for now in Self.instants {
                            let timestamp = Timestamp(microseconds: now)
                            #expect(limit.windowLength(at: timestamp) > 0)
                            let stale = state.map { limit.isStale($0, at: timestamp) }
                            for cost in Self.costs {
                                let (check, next) = limit.evaluate(state, cost: cost, at: timestamp)
                                if let problem = Self.incoherence(check, cost: cost, limit: limit) {
                                    incoherent.append("\(limit) \(String(describing: state)) cost \(cost) at \(now): \(problem)")
                                }
                                if stale == true, limit.evaluate(nil, cost: cost, at: timestamp).check != check {
                                    incoherent.append("\(limit) \(String(describing: state)) stale at \(now) but answers differently")
                                }
                                // The next request, later and earlier, and a refund, from the new state.
                                for later in [Int64.min, 0, .max] {
                                    _ = limit.evaluate(next, cost: cost, at: Timestamp(microseconds: later))
                                    _ = limit.refund(next, cost: cost, at: Timestamp(microseconds: later))
                                    _ = limit.isStale(next, at: Timestamp(microseconds: later))
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(incoherent.isEmpty, "\(incoherent.prefix(5))")
    }

    static func incoherence(_ check: LimitCheck, cost: UInt64, limit: Limit) -> String? {
        if check.retryAfter < 0 || check.resetAfter < 0 { return "negative delay \(check)" }
        if check.allowed && (check.retryAfter != 0 || check.neverFits) { return "allowed with \(check)" }
        if check.neverFits && check.retryAfter != 0 { return "neverFits with retryAfter \(check.retryAfter)" }
        if !check.allowed && !check.neverFits && check.retryAfter == 0 { return "denied with retryAfter 0" }
        if cost == 0 && !check.allowed { return "cost 0 denied" }
        let largest = [.tokenBucket, .gcra].contains(limit.strategy) ? limit.capacity : limit.quantity
        if check.remaining > largest { return "remaining \(check.remaining) above \(largest)" }
        if cost > largest && check.allowed { return "admitted a cost above the limit" }
        return nil
    }

    @Test("quantity and cost UInt64.max: admitted once per window, then denied")
    func largestQuantityAndCost() {
        for strategy in Strategy.allCases {
            var run = LimiterRun(limit(strategy, quantity: .max, window: .max))
            // At time 0: GCRA's scaled arrival (now × quantity + cost × window) must fit in Int128.
            let now = seconds(0)
            let first = run.request(.max, at: now)
            #expect(first.allowed && first.remaining == 0, "\(strategy)")
            let second = run.request(1, at: now)
            #expect(!second.allowed && !second.neverFits && second.retryAfter > 0, "\(strategy)")
        }
    }

    @Test("GCRA refuses what it cannot represent instead of over-admitting")
    func gcraBeyondInt128() {
        // now × quantity + cost × window does not fit in Int128 here.
        let meter = limit(.gcra, quantity: .max, window: .max)
        let check = meter.evaluate(nil, cost: .max, at: micros(.max)).check
        #expect(!check.allowed && check.neverFits)
        #expect(meter.evaluate(nil, cost: 1, at: micros(.max)).check.allowed)
    }

    @Test("windows at the ends of the timeline: the first and last periods are cut by Int64")
    func periodsAtTheEnds() {
        let fixed = limit(.fixedWindow, quantity: 1, window: 10)
        let (first, state) = fixed.evaluate(nil, cost: 1, at: micros(.min))
        // Int64.min is 2 past a multiple of 10: its window is [Int64.min − 2, Int64.min + 8).
        #expect(first.allowed && first.resetAfter == 8)
        #expect(state == .window(start: .min, count: 1))
        #expect(!fixed.evaluate(state, cost: 1, at: micros(.min + 7)).check.allowed)
        #expect(fixed.evaluate(state, cost: 1, at: micros(.min + 8)).check.allowed)

        // Int64.max is 7 past a multiple of 10: its window ends 3 µs beyond Int64.max.
        let last = fixed.evaluate(nil, cost: 1, at: micros(.max))
        #expect(last.check.allowed && last.check.resetAfter == 3)
        let denied = fixed.evaluate(last.state, cost: 1, at: micros(.max)).check
        #expect(!denied.allowed && denied.retryAfter == 3)
    }

    @Test("a clock jumping between the ends of the timeline never admits twice")
    func wildClock() {
        for strategy in Strategy.allCases {
            var run = LimiterRun(limit(strategy, quantity: 1, window: microsecondsPerSecond, burst: 1))
            #expect(run.request(at: micros(.max)).allowed, "\(strategy)")
            for now in [Int64.min, 0, .max - 1, .min + 1, .max] {
                #expect(!run.request(at: micros(now)).allowed, "\(strategy) at \(now)")
            }
        }
    }
}
