/// The two-window weighted counter: the estimate at `elapsed` microseconds into the current
/// epoch-aligned window is `previous × (window − elapsed) / window + count`. Compared exactly,
/// multiplied through by `window`, in 128 bits.
struct SlidingWindow: LimiterAlgorithm {
    var quantity: UInt64
    var window: Int64

    struct State: Hashable {
        var period: Period
        var count: UInt64
        var previous: UInt64
    }

    private var periods: PeriodScheme { .fixed(length: window) }

    func fresh(at now: Int64) -> State {
        State(period: periods.period(containing: now), count: 0, previous: 0)
    }

    func normalized(_ stored: CounterState, at now: Int64) -> State? {
        guard case .sliding(let start, let count, let previous) = stored else { return nil }
        let period = periods.currentPeriod(storedStart: start, at: now)
        let storedStart = Int128(start)
        if storedStart >= period.start {
            return State(period: period, count: count, previous: previous)
        }
        if storedStart >= period.start - Int128(window) {
            return State(period: period, count: 0, previous: count)
        }
        return State(period: period, count: 0, previous: 0)
    }

    func encoded(_ state: State) -> CounterState {
        .sliding(start: state.period.storedStart, count: state.count, previous: state.previous)
    }

    func admitting(_ cost: UInt64, to state: State, at now: Int64) -> State? {
        guard cost <= quantity, state.count <= quantity - cost,
              weightOfPrevious(state, at: now) <= scaled(quantity - state.count - cost)
        else { return nil }
        return State(period: state.period, count: state.count + cost, previous: state.previous)
    }

    func remaining(in state: State, at now: Int64) -> UInt64 {
        guard state.count <= quantity else { return 0 }
        let budget = scaled(quantity - state.count)
        let weight = weightOfPrevious(state, at: now)
        return weight < budget ? UInt64((budget - weight) / UInt128(window)) : 0
    }

    /// Until the estimate reaches 0: the end of the next window while this one has counted
    /// anything (it becomes the decaying `previous`), the end of this window while only the
    /// previous one has, 0 when both are empty.
    func resetAfter(_ state: State, at now: Int64) -> Int64 {
        if state.count > 0 { return delay(from: now, until: state.period.end + Int128(window)) }
        if state.previous > 0 { return delay(from: now, until: state.period.end) }
        return 0
    }

    /// The estimate only decreases while nothing is admitted, so the first instant it lets the
    /// cost through is found in closed form: later in this window as `previous` decays, else in
    /// the next window, where this window's count becomes the decaying `previous`. If not even
    /// there, the window after next starts empty.
    func retryAfter(_ cost: UInt64, in state: State, at now: Int64) -> Int64? {
        guard cost <= quantity else { return nil }
        if state.count <= quantity - cost {
            let offset = earliestOffset(weight: state.previous, budget: scaled(quantity - state.count - cost))
            if offset < window { return delay(from: now, until: state.period.start + Int128(offset)) }
        }
        let offset = earliestOffset(weight: state.count, budget: scaled(quantity - cost))
        return delay(from: now, until: state.period.end + Int128(offset))
    }

    /// Taken from the current window first: a refund normally follows its request within the
    /// same window. What the current count cannot cover comes off the previous window.
    func refunding(_ cost: UInt64, to state: State, at now: Int64) -> State {
        let fromCount = min(cost, state.count)
        let fromPrevious = min(cost - fromCount, state.previous)
        return State(period: state.period, count: state.count - fromCount, previous: state.previous - fromPrevious)
    }

    /// From the window the cost was charged in: the current count while it is the current
    /// window, `previous` while it is the previous one, nothing once it is older. Never from a
    /// window the charge was not counted in.
    func refunding(_ cost: UInt64, charged: CounterState, to state: State, at now: Int64) -> State? {
        guard case .sliding(let chargedStart, _, _) = charged else { return nil }
        if chargedStart == state.period.storedStart, state.count > 0 {
            return State(period: state.period, count: state.count - min(cost, state.count), previous: state.previous)
        }
        if Int128(chargedStart) == state.period.start - Int128(window), state.previous > 0 {
            return State(period: state.period, count: state.count, previous: state.previous - min(cost, state.previous))
        }
        return nil
    }

    /// `units × window`: a count in the scale the weighted comparison uses.
    private func scaled(_ units: UInt64) -> UInt128 {
        UInt128(units) * UInt128(window)
    }

    /// `previous × (window − elapsed)`: the previous window's share of the estimate, scaled.
    private func weightOfPrevious(_ state: State, at now: Int64) -> UInt128 {
        // A clock behind the period start (it went backwards) weighs the previous window fully.
        let elapsed = max(Int128(now) - state.period.start, 0)
        return UInt128(state.previous) * UInt128(Int128(window) - elapsed)
    }

    /// The smallest offset into a window at which `weight × (window − offset) <= budget`, or
    /// `window` when no offset inside the window satisfies it.
    private func earliestOffset(weight: UInt64, budget: UInt128) -> Int64 {
        guard weight > 0 else { return 0 }
        let toleratedRemainder = budget / UInt128(weight)
        return window - Int64(clamping: min(toleratedRemainder, UInt128(window)))
    }
}
