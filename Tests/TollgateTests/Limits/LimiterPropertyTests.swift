import Testing
@testable import Tollgate

/// Properties every strategy must keep on thousands of seeded random runs. Failures name the
/// seed, so a run can be replayed.
@Suite("Limiter properties")
struct LimiterPropertyTests {
    /// Runs `generator.runs` random sequences; `check` returns what it found wrong.
    func forEachRun(
        of strategy: Strategy,
        _ generator: LimiterGenerator,
        seed: UInt64,
        options: (inout SplitMix64) -> SimulationOptions,
        check: (Limit, SimulationOptions, [SimulatedStep], inout SplitMix64) -> [String]
    ) -> [String] {
        var failures: [String] = []
        for run in 0..<UInt64(generator.runs) where failures.count < 5 {
            let runSeed = seed &+ run &* 0x1_0000 &+ UInt64(strategy.rawValue)
            var rng = SplitMix64(seed: runSeed)
            let limit = generator.limit(strategy, using: &rng)
            let runOptions = generator.options(options(&rng))
            let steps = simulate(limit, runOptions, using: &rng)
            failures += check(limit, runOptions, steps, &rng).prefix(2).map { "seed \(runSeed), \(limit), \(runOptions): \($0)" }
        }
        return failures
    }

    static func anyShape(_ rng: inout SplitMix64) -> SimulationOptions {
        SimulationOptions(refunds: rng.chance(50), backwards: rng.chance(30))
    }

    @Test("admitted never exceeds what the policy allows, refunds counted", arguments: Strategy.allCases, LimiterGenerator.allCases)
    func admittedWithinPolicy(strategy: Strategy, generator: LimiterGenerator) {
        let failures = forEachRun(of: strategy, generator, seed: 1, options: Self.anyShape) { limit, options, steps, _ in
            PolicyBound.violations(of: limit, in: steps, options: options)
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    @Test("a rejected request returns the input state, normalized, and changes nothing", arguments: Strategy.allCases, LimiterGenerator.allCases)
    func rejectionChangesNothing(strategy: Strategy, generator: LimiterGenerator) {
        var rejections = 0
        let failures = forEachRun(of: strategy, generator, seed: 2, options: Self.anyShape) { limit, _, steps, _ in
            steps.filter { !$0.isRefund && !$0.admitted }.compactMap { step in
                rejections += 1
                let now = Timestamp(microseconds: step.now)
                let normalized = limit.evaluate(step.before, cost: 0, at: now).state
                if step.after != normalized { return "denied at \(step.now) stored \(String(describing: step.after)), normalized is \(normalized)" }
                let again = limit.evaluate(step.after, cost: step.cost, at: now).check
                return again == step.check ? nil : "asking again at \(step.now) answered \(again), first \(String(describing: step.check))"
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(rejections > generator.runs)
    }

    @Test("retryAfter is exact: allowed at now + retryAfter, denied one microsecond earlier", arguments: Strategy.allCases, LimiterGenerator.allCases)
    func retryAfterIsExact(strategy: Strategy, generator: LimiterGenerator) {
        var retriesChecked = 0
        let failures = forEachRun(of: strategy, generator, seed: 3, options: Self.anyShape) { limit, _, steps, _ in
            steps.compactMap { step -> String? in
                guard let check = step.check else { return nil }
                if check.allowed {
                    return check.retryAfter == 0 && !check.neverFits ? nil : "allowed with \(check)"
                }
                let retry = check.retryAfter
                if check.neverFits {
                    // Waiting never helps: not after ten windows, not after a long time.
                    let later = [10 * limit.windowLength(at: Timestamp(microseconds: step.now)), 1 << 50].compactMap { step.now.adding($0) }
                    let admittedLater = later.contains { limit.evaluate(step.after, cost: step.cost, at: Timestamp(microseconds: $0)).check.allowed }
                    return retry == 0 && !admittedLater ? nil : "neverFits but \(check), admitted later: \(admittedLater)"
                }
                guard retry > 0 else { return "denied with retryAfter 0 at \(step.now)" }
                // Int64.max is saturated (the true wait is longer): nothing to check at the instant.
                guard retry != .max, let retryAt = step.now.adding(retry) else { return nil }
                retriesChecked += 1
                let atRetry = limit.evaluate(step.after, cost: step.cost, at: Timestamp(microseconds: retryAt)).check.allowed
                let justBefore = limit.evaluate(step.after, cost: step.cost, at: Timestamp(microseconds: retryAt - 1)).check.allowed
                return atRetry && !justBefore ? nil : "cost \(step.cost) at \(step.now) retryAfter \(retry): allowed then \(atRetry), 1 µs before \(justBefore)"
            }
        }
        // The edge generator found GCRA promising a retry time it then refused (its scaled
        // arrival overflowed Int128 near the end of the timeline); it now answers never-fits.
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(retriesChecked > generator.runs)
    }

    @Test("a stale state answers like a fresh one, and every state is stale at now + resetAfter", arguments: Strategy.allCases, LimiterGenerator.allCases)
    func staleMeansFresh(strategy: Strategy, generator: LimiterGenerator) {
        var staleSeen = 0
        let failures = forEachRun(of: strategy, generator, seed: 4, options: Self.anyShape) { limit, options, steps, rng in
            steps.compactMap { step -> String? in
                guard let after = step.after else { return nil }
                let window = limit.windowLength(at: Timestamp(microseconds: step.now))
                var instants = [step.now, step.now.adding(Int64.random(in: 0...3 * window, using: &rng))]
                if let check = step.check, !options.backwards, check.resetAfter != .max, let reset = step.now.adding(check.resetAfter) {
                    // A clock that went back leaves states pinned ahead of it; only a forward clock
                    // guarantees staleness at the reset.
                    if !limit.isStale(after, at: Timestamp(microseconds: reset)) { return "not stale at now + resetAfter (\(check.resetAfter)) after \(step.now)" }
                    instants.append(reset)
                }
                for instant in instants.compactMap({ $0 }) where limit.isStale(after, at: Timestamp(microseconds: instant)) {
                    staleSeen += 1
                    for cost in [0, 1, step.cost, UInt64.random(in: 0...20, using: &rng)] {
                        let fromState = limit.evaluate(after, cost: cost, at: Timestamp(microseconds: instant)).check
                        let fromNil = limit.evaluate(nil, cost: cost, at: Timestamp(microseconds: instant)).check
                        if fromState != fromNil { return "stale at \(instant) but cost \(cost) answers \(fromState), fresh answers \(fromNil)" }
                    }
                }
                return nil
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(staleSeen > generator.runs)
    }

    @Test("refund of a fresh or stale state stays fresh", arguments: Strategy.allCases, LimiterGenerator.allCases)
    func refundOfFreshStaysFresh(strategy: Strategy, generator: LimiterGenerator) {
        let failures = forEachRun(of: strategy, generator, seed: 5, options: { _ in SimulationOptions(refunds: true) }) { limit, _, steps, _ in
            steps.compactMap { step -> String? in
                let now = Timestamp(microseconds: step.now)
                if limit.refund(nil, cost: step.cost, at: now) != nil { return "refund of nil is not nil" }
                guard let after = step.after, limit.isStale(after, at: now) else { return nil }
                guard let refunded = limit.refund(after, cost: step.cost, at: now) else { return "refund of a stored state is nil" }
                return limit.isStale(refunded, at: now) ? nil : "refund of a stale state at \(step.now) gave \(refunded)"
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    @Test("token bucket and GCRA with equal parameters answer identically", arguments: LimiterGenerator.allCases)
    func tokenBucketMatchesGCRA(generator: LimiterGenerator) {
        var failures: [String] = []
        var compared = 0
        for run in 0..<UInt64(4 * generator.runs) where failures.isEmpty {
            var rng = SplitMix64(seed: 6_000_000 + run)
            let bucket = generator.limit(.tokenBucket, using: &rng)
            var meter = bucket
            meter.strategy = .gcra
            // Past GCRA's bounds (quantity > 2^62, burst × window > 2^126, refused for new limits)
            // its 128-bit arrival time can overflow and it refuses what the bucket admits.
            guard (try? Validation.limit(meter)) != nil else { continue }
            compared += 1
            let steps = simulate(bucket, generator.options(SimulationOptions(refunds: rng.chance(50))), using: &rng)

            var meterState: CounterState?
            for step in steps {
                let now = Timestamp(microseconds: step.now)
                if step.isRefund {
                    meterState = meter.refund(meterState, cost: step.cost, at: now)
                } else {
                    let (check, next) = meter.evaluate(meterState, cost: step.cost, at: now)
                    meterState = next
                    if check != step.check {
                        failures.append("seed \(6_000_000 + run), \(bucket), cost \(step.cost) at \(step.now): bucket \(String(describing: step.check)), GCRA \(check)")
                        break
                    }
                }
                if let after = step.after, let meterState, bucket.isStale(after, at: now) != meter.isStale(meterState, at: now) {
                    failures.append("seed \(6_000_000 + run): staleness differs at \(step.now)")
                    break
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(compared >= 2 * generator.runs, "only \(compared) runs within GCRA's bounds")
    }
}

/// The independent bound each strategy promises, computed from the history alone.
enum PolicyBound {
    static func violations(of limit: Limit, in steps: [SimulatedStep], options: SimulationOptions) -> [String] {
        switch limit.strategy {
        case .fixedWindow, .calendarDay, .calendarMonth:
            perPeriod(limit, steps)
        case .slidingWindow:
            perPeriod(limit, steps) + (options.refunds ? [] : slidingEstimate(limit, steps))
        case .tokenBucket:
            perInterval(limit, steps, countingEarlierRefunds: false)
        case .gcra:
            // GCRA keeps no "last seen" time: a refund on a clock that went back is capped at that
            // earlier now, so it can fill the meter past its burst by up to the refunded amount.
            perInterval(limit, steps, countingEarlierRefunds: options.refunds && options.backwards)
        case .slidingLog:
            // The log stamps a request at the later of `now` and its newest entry; a clock that
            // went back after a denial (which writes nothing in the engine) can log earlier than
            // the model's time, so the bound is checked on forward clocks (SlidingLogTests covers
            // the backwards case in logged time).
            options.backwards ? [] : movingWindow(limit, steps)
        }
    }

    /// Which period a model time falls in, computed without the implementation's period code
    /// (calendar months go through `CivilDate`, checked against a day-by-day walk elsewhere).
    static func periodKey(_ limit: Limit, _ time: Int64) -> Int128 {
        let day = Int128(time).dividedRoundingDown(by: Int128(microsecondsPerDay))
        switch limit.strategy {
        case .calendarDay: return day
        case .calendarMonth:
            let date = CivilDate(daysSinceEpoch: Int64(day))
            return Int128(date.year) * 12 + Int128(date.month)
        case .fixedWindow, .slidingWindow, .tokenBucket, .gcra, .slidingLog:
            return Int128(time).dividedRoundingDown(by: Int128(max(limit.windowMicroseconds, 1)))
        }
    }

    /// Admitted minus refunded within each period is at most the quantity.
    static func perPeriod(_ limit: Limit, _ steps: [SimulatedStep]) -> [String] {
        var net: [Int128: Int128] = [:]
        for step in steps where step.admitted || step.isRefund {
            net[periodKey(limit, step.modelTime), default: 0] += step.isRefund ? -Int128(step.cost) : Int128(step.cost)
        }
        return net.filter { $0.value > Int128(limit.quantity) }.map { "period \($0.key) admitted \($0.value) net" }
    }

    /// Without refunds, each admission keeps `previous × (W − elapsed) + current × W <= quantity × W`,
    /// counting both windows from the history.
    static func slidingEstimate(_ limit: Limit, _ steps: [SimulatedStep]) -> [String] {
        let window = Int128(limit.windowMicroseconds)
        var admittedPerWindow: [Int128: Int128] = [:]
        var failures: [String] = []
        for step in steps where step.admitted {
            let index = periodKey(limit, step.modelTime)
            admittedPerWindow[index, default: 0] += Int128(step.cost)
            let elapsed = Int128(step.modelTime) - index * window
            let estimate = admittedPerWindow[index - 1, default: 0] * (window - elapsed) + admittedPerWindow[index, default: 0] * window
            if estimate > Int128(limit.quantity) * window {
                failures.append("estimate \(estimate) / \(window) at \(step.modelTime)")
            }
        }
        return failures
    }

    /// Sliding log: at each admission, the cost admitted in the moving window `(t − W, t]` of model
    /// time, less the refunds made in it, is at most the quantity. A refund comes off entries
    /// logged at or before it, so counting it where it happens never credits a window it did not
    /// give back to.
    static func movingWindow(_ limit: Limit, _ steps: [SimulatedStep]) -> [String] {
        let window = Int128(max(limit.windowMicroseconds, 1))
        var failures: [String] = []
        for (j, last) in steps.enumerated() where last.admitted {
            var net: Int128 = 0
            for step in steps[...j] where Int128(step.modelTime) > Int128(last.modelTime) - window {
                net += step.isRefund ? -Int128(step.cost) : step.admitted ? Int128(step.cost) : 0
            }
            if net > Int128(limit.quantity) { failures.append("\(net) admitted net in the window ending \(last.modelTime)") }
        }
        return failures
    }

    /// Between any two admissions i <= j: admitted × W <= burst × W + quantity × (t_j − t_i) + refunded × W,
    /// counting the refunds between i and j, or all refunds before j when `countingEarlierRefunds`.
    static func perInterval(_ limit: Limit, _ steps: [SimulatedStep], countingEarlierRefunds: Bool) -> [String] {
        let window = Int128(limit.windowMicroseconds)
        var failures: [String] = []
        for (i, first) in steps.enumerated() where first.admitted {
            let earlierRefunds = steps[..<i].filter(\.isRefund).reduce(Int128(0)) { $0 + Int128($1.cost) }
            var net: Int128 = countingEarlierRefunds ? -earlierRefunds : 0
            for last in steps[i...] {
                net += last.isRefund ? -Int128(last.cost) : last.admitted ? Int128(last.cost) : 0
                guard last.admitted else { continue }
                let allowance = Int128(limit.capacity) * window + Int128(limit.quantity) * (Int128(last.modelTime) - Int128(first.modelTime))
                if net * window > allowance {
                    failures.append("\(net) admitted net in [\(first.modelTime), \(last.modelTime)]")
                }
            }
        }
        return failures
    }
}

extension Int64 {
    /// `self + delta`, or `nil` beyond the timeline.
    func adding(_ delta: Int64) -> Int64? {
        let (sum, overflow) = addingReportingOverflow(delta)
        return overflow ? nil : sum
    }
}
