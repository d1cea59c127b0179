@testable import Tollgate

/// One operation of a random run and what the limiter answered.
struct SimulatedStep {
    var now: Int64
    /// The latest time any stored state has seen. A clock that goes back does not rewind the
    /// limiter, so the policy's bounds hold in this time, not in `now`.
    var modelTime: Int64
    var cost: UInt64
    /// The limiter's answer to a request; `nil` for a refund.
    var check: LimitCheck?
    var before: CounterState?
    var after: CounterState?

    var isRefund: Bool { check == nil }
    var admitted: Bool { check?.allowed == true }
}

/// How a random run is shaped.
struct SimulationOptions {
    var steps = 60
    var refunds = false
    var backwards = false
    /// Draw costs from `randomEdgeCost`: up to the quantity and the last answer's remaining.
    var edgeCosts = false
}

/// A random arrival sequence against one limit. Every returned state is stored, as the engine's
/// refund path and a read-modify-write caller would.
func simulate(_ limit: Limit, _ options: SimulationOptions, using rng: inout SplitMix64) -> [SimulatedStep] {
    var steps: [SimulatedStep] = []
    var state: CounterState?
    var now = randomStart(for: limit, using: &rng)
    var modelTime = Int64.min
    var lastCheck: LimitCheck?
    var notYetRefunded: UInt64 = 0

    for _ in 0..<options.steps {
        now = nextTime(after: now, limit: limit, lastCheck: lastCheck, backwards: options.backwards, using: &rng)
        modelTime = max(modelTime, now)
        if options.refunds, notYetRefunded > 0, rng.chance(20) {
            let amount = UInt64.random(in: 1...notYetRefunded, using: &rng)
            let after = limit.refund(state, cost: amount, at: Timestamp(microseconds: now))
            steps.append(SimulatedStep(now: now, modelTime: modelTime, cost: amount, check: nil, before: state, after: after))
            state = after
            notYetRefunded -= amount
        } else {
            let cost = options.edgeCosts
                ? randomEdgeCost(for: limit, lastCheck: lastCheck, using: &rng)
                : randomCost(for: limit, using: &rng)
            let (check, after) = limit.evaluate(state, cost: cost, at: Timestamp(microseconds: now))
            steps.append(SimulatedStep(now: now, modelTime: modelTime, cost: cost, check: check, before: state, after: after))
            state = after
            lastCheck = check
            // Saturating: edge costs can sum past UInt64.max; refunds then stay below what was admitted.
            if check.allowed { notYetRefunded = notYetRefunded.saturatingAdding(cost) }
        }
    }
    return steps
}

/// Quantities from 0 to a rate of one per microsecond, windows short enough that a run crosses
/// many of them.
func randomLimit(_ strategy: Strategy, using rng: inout SplitMix64) -> Limit {
    let quantity: UInt64
    let window: Int64
    switch UInt64.random(in: 0..<100, using: &rng) {
    case 0..<5:
        quantity = 0
        window = Int64.random(in: 1...300, using: &rng)
    case 5..<15:
        quantity = 1_000_000
        window = rng.chance(50) ? 1_000_000 : Int64.random(in: 1...300, using: &rng)
    default:
        quantity = UInt64.random(in: 1...12, using: &rng)
        window = Int64.random(in: 1...300, using: &rng)
    }
    let burst: UInt64? = rng.chance(50) ? nil : UInt64.random(in: 0...20, using: &rng)
    return limit(strategy, quantity: quantity, window: window, burst: burst)
}

/// Mostly around today; sometimes next to either end of the timeline.
private func randomStart(for limit: Limit, using rng: inout SplitMix64) -> Int64 {
    switch UInt64.random(in: 0..<100, using: &rng) {
    case 0..<4: Int64.min + Int64.random(in: 0...1_000_000_000, using: &rng)
    case 4..<8: Int64.max - Int64.random(in: 0...1_000_000_000_000, using: &rng)
    // 1900 to 2200: calendar runs see leap days and century years.
    default: Int64.random(in: -2_208_988_800_000_000...7_258_118_400_000_000, using: &rng)
    }
}

private func randomCost(for limit: Limit, using rng: inout SplitMix64) -> UInt64 {
    switch UInt64.random(in: 0..<100, using: &rng) {
    case 0..<8: 0
    case 8..<15: UInt64.random(in: 0...max(limit.quantity, limit.capacity).saturatingAdding(2), using: &rng)
    default: UInt64.random(in: 1...3, using: &rng)
    }
}

/// Steps that hit window edges and retry instants exactly, plus random ones.
private func nextTime(
    after now: Int64,
    limit: Limit,
    lastCheck: LimitCheck?,
    backwards: Bool,
    using rng: inout SplitMix64
) -> Int64 {
    let window = limit.windowLength(at: Timestamp(microseconds: now))
    var step: Int64
    switch UInt64.random(in: 0..<100, using: &rng) {
    case 0..<25: step = 0
    case 25..<60: step = Int64.random(in: 0...max(window / 4, 1), using: &rng)
    case 60..<75: step = (lastCheck?.resetAfter ?? 0).saturatingAdding(Int64.random(in: -1...1, using: &rng))
    case 75..<90: step = (lastCheck?.retryAfter ?? 0).saturatingAdding(Int64.random(in: -1...0, using: &rng))
    default: step = Int64.random(in: 0...3 * window, using: &rng)
    }
    if backwards, rng.chance(8) {
        step = -Int64.random(in: 0...2 * window, using: &rng)
    } else if !backwards {
        step = max(step, 0)
    }
    let (next, overflow) = now.addingReportingOverflow(step)
    return overflow ? now : next
}

extension FixedWidthInteger {
    func saturatingAdding(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }
}
