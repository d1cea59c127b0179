/// Fixed window and calendar quotas: at most `quantity` per period, the count resetting at each
/// period boundary.
struct WindowCounter: LimiterAlgorithm {
    var quantity: UInt64
    var periods: PeriodScheme

    struct State: Hashable {
        var period: Period
        var count: UInt64
    }

    func fresh(at now: Int64) -> State {
        State(period: periods.period(containing: now), count: 0)
    }

    func normalized(_ stored: CounterState, at now: Int64) -> State? {
        guard case .window(let start, let count) = stored else { return nil }
        let period = periods.currentPeriod(storedStart: start, at: now)
        // The count still counts when the stored window starts inside the current period: the
        // same period, or a shorter one from before the tier was edited.
        return State(period: period, count: Int128(start) >= period.start ? count : 0)
    }

    func encoded(_ state: State) -> CounterState {
        .window(start: state.period.storedStart, count: state.count)
    }

    func admitting(_ cost: UInt64, to state: State, at now: Int64) -> State? {
        guard cost <= quantity, state.count <= quantity - cost else { return nil }
        return State(period: state.period, count: state.count + cost)
    }

    func remaining(in state: State, at now: Int64) -> UInt64 {
        quantity.subtractingClampedAtZero(state.count)
    }

    func resetAfter(_ state: State, at now: Int64) -> Int64 {
        delay(from: now, until: state.period.end)
    }

    func retryAfter(_ cost: UInt64, in state: State, at now: Int64) -> Int64? {
        cost <= quantity ? delay(from: now, until: state.period.end) : nil
    }

    func refunding(_ cost: UInt64, to state: State, at now: Int64) -> State {
        State(period: state.period, count: state.count.subtractingClampedAtZero(cost))
    }

    /// Only while the charged window is the current one: a count of an ended window is gone.
    func refunding(_ cost: UInt64, charged: CounterState, to state: State, at now: Int64) -> State? {
        guard case .window(let chargedStart, _) = charged, chargedStart == state.period.storedStart, state.count > 0
        else { return nil }
        return refunding(cost, to: state, at: now)
    }
}
