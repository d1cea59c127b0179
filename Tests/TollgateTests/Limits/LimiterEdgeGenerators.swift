@testable import Tollgate

/// Which random limits and costs a property run draws. The ordinary shapes cross many short
/// windows with small numbers; the edge shapes reach the sizes a real policy can name (day and
/// month windows, quantities up to `UInt64.max`, costs up to the quantity), where 128-bit
/// products and saturating conversions are exercised — the small numbers never get near them.
enum LimiterGenerator: String, CaseIterable, CustomStringConvertible {
    case ordinary
    case edges

    var description: String { rawValue }

    /// Edge runs are fewer: each one walks days or months of model time with large numbers.
    var runs: Int {
        switch self {
        case .ordinary: 1_000
        case .edges: 400
        }
    }

    func limit(_ strategy: Strategy, using rng: inout SplitMix64) -> Limit {
        switch self {
        case .ordinary: randomLimit(strategy, using: &rng)
        case .edges: randomEdgeLimit(strategy, using: &rng)
        }
    }

    func options(_ options: SimulationOptions) -> SimulationOptions {
        var options = options
        options.edgeCosts = self == .edges
        return options
    }
}

/// Windows of a second to a year (calendar quotas ignore theirs), quantities from 1 to
/// `UInt64.max`, bursts anywhere in `UInt64`.
func randomEdgeLimit(_ strategy: Strategy, using rng: inout SplitMix64) -> Limit {
    let day = microsecondsPerDay
    let windows: [Int64] = [microsecondsPerSecond, day, 7 * day, 28 * day, 30 * day, 31 * day, 365 * day]
    let window = rng.chance(80) ? windows[Int.random(in: 0..<windows.count, using: &rng)] : Int64.random(in: 1...366 * day, using: &rng)
    let quantity = randomEdgeAmount(using: &rng)
    let burst: UInt64? = rng.chance(40) ? nil : randomEdgeAmount(using: &rng)
    return limit(strategy, quantity: quantity, window: window, burst: burst)
}

/// `UInt64.max` and its neighbours, powers of two around the 2^63 and 2^32 boundaries, and
/// uniformly random bit widths, so every magnitude is drawn about as often.
private func randomEdgeAmount(using rng: inout SplitMix64) -> UInt64 {
    switch UInt64.random(in: 0..<100, using: &rng) {
    case 0..<20: .max - UInt64.random(in: 0...2, using: &rng)
    case 20..<30: (1 << 63) &+ UInt64.random(in: 0...2, using: &rng) &- 1
    case 30..<40: UInt64(microsecondsPerDay) * UInt64.random(in: 1...31, using: &rng)
    default:
        // At least 1: a zero quantity is covered by the ordinary generator.
        max(1, UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng))
    }
}

/// Costs up to and just past the quantity and the capacity, and exactly what the last answer said
/// remains (and one more), where an off-by-one or a wrapped sum changes the answer.
func randomEdgeCost(for limit: Limit, lastCheck: LimitCheck?, using rng: inout SplitMix64) -> UInt64 {
    let largest = max(limit.quantity, limit.capacity)
    switch UInt64.random(in: 0..<100, using: &rng) {
    case 0..<5: return 0
    case 5..<15: return largest.saturatingAdding(UInt64.random(in: 0...1, using: &rng))
    case 15..<25: return min(limit.quantity, limit.capacity)
    case 25..<45:
        guard let remaining = lastCheck?.remaining else { return 1 }
        return remaining.saturatingAdding(UInt64.random(in: 0...1, using: &rng))
    case 45..<70: return UInt64.random(in: 0...largest, using: &rng)
    case 70..<85: return max(1, largest >> UInt64.random(in: 1...8, using: &rng))
    default: return UInt64.random(in: 1...3, using: &rng)
    }
}
