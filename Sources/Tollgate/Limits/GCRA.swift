/// The generic cell rate algorithm (leaky bucket as a meter). Time is scaled by `quantity`, so the
/// emission interval `window / quantity` is exactly `window` scaled units, and a cost of `c` moves
/// the theoretical arrival time (TAT) by `c × window`. The tolerance lets `burst` units through at
/// once.
///
/// Everything is expressed through the *debt* `TAT − now` (scaled), which is what a token bucket
/// of the same capacity is missing: both give identical answers on a clock that never goes back.
struct GCRA: LimiterAlgorithm {
    var quantity: UInt64
    var window: Int64
    var burst: UInt64

    /// Bounds validation puts on new GCRA limits, so that `now × quantity + burst × window`
    /// (< 2^125 + 2^126) never overflows the 128-bit arrival time.
    static let maximumQuantity: UInt64 = 1 << 62
    static let maximumTolerance: UInt128 = 1 << 126

    struct State: Hashable {
        /// Never before the scaled `now` the state was normalized at.
        var scaledArrival: Int128
    }

    /// `burst × window` < 2^127: the most debt a request may leave behind.
    private var tolerance: UInt128 { UInt128(burst) * UInt128(window) }

    /// `now × quantity`, within ±2^127.
    private func scaled(_ now: Int64) -> Int128 {
        Int128(now) * Int128(quantity)
    }

    func fresh(at now: Int64) -> State {
        State(scaledArrival: scaled(now))
    }

    func normalized(_ stored: CounterState, at now: Int64) -> State? {
        guard case .gcra(let scaledArrival) = stored else { return nil }
        // An arrival time ahead of a clock that went backwards is kept: the debt grows, so a
        // backwards clock can only make the limit stricter.
        return State(scaledArrival: max(scaledArrival, scaled(now)))
    }

    func encoded(_ state: State) -> CounterState {
        .gcra(scaledArrival: state.scaledArrival)
    }

    func admitting(_ cost: UInt64, to state: State, at now: Int64) -> State? {
        let increment = scaledCost(cost)
        guard increment <= tolerance, debt(state, at: now) <= tolerance - increment else { return nil }
        // An arrival time beyond Int128 (now × quantity near 2^127, or burst × window near it)
        // cannot be stored; refusing is the side that never over-admits, and `retryAfter`
        // reports it as never fitting.
        let (arrival, overflow) = state.scaledArrival.addingReportingOverflow(Int128(increment))
        return overflow ? nil : State(scaledArrival: arrival)
    }

    func remaining(in state: State, at now: Int64) -> UInt64 {
        let debt = debt(state, at: now)
        return debt < tolerance ? UInt64((tolerance - debt) / UInt128(window)) : 0
    }

    /// Until the debt is paid off (TAT reached); `Int64.max` when it never is.
    func resetAfter(_ state: State, at now: Int64) -> Int64 {
        delayUntilDebt(fallsTo: 0, in: state, at: now) ?? .max
    }

    func retryAfter(_ cost: UInt64, in state: State, at now: Int64) -> Int64? {
        let increment = scaledCost(cost)
        guard increment <= tolerance else { return nil }
        // Refused because the new arrival time would not fit in Int128 (a quantity near
        // UInt64.max near the end of the timeline): the arrival time and the scaled clock only
        // grow, so waiting never helps — never fits, not a retry time that would be refused too.
        if state.scaledArrival.addingReportingOverflow(Int128(increment)).overflow { return nil }
        guard debt(state, at: now) > tolerance - increment else { return nil }
        return delayUntilDebt(fallsTo: tolerance - increment, in: state, at: now)
    }

    /// Moves the arrival time back by the cost, but never before `now`.
    func refunding(_ cost: UInt64, to state: State, at now: Int64) -> State {
        let increment = scaledCost(cost)
        guard debt(state, at: now) > increment else { return fresh(at: now) }
        return State(scaledArrival: state.scaledArrival - Int128(increment))
    }

    /// The charge left the arrival time at `charged`; by `now` the debt it added is repaid down
    /// to `charged − t_s` (at most its own `k × W`), whatever happened in between. Giving back
    /// only that never admits more than the limit would have without the charge.
    func refunding(_ cost: UInt64, charged: CounterState, to state: State, at now: Int64) -> State? {
        guard case .gcra(let chargedArrival) = charged, chargedArrival > scaled(now) else { return nil }
        let inForce = min(chargedArrival.distance(above: scaled(now)), scaledCost(cost))
        let debt = debt(state, at: now)
        guard debt > 0 else { return nil }
        return debt > inForce ? State(scaledArrival: state.scaledArrival - Int128(inForce)) : fresh(at: now)
    }

    /// `cost × window` < 2^127.
    private func scaledCost(_ cost: UInt64) -> UInt128 {
        UInt128(cost) * UInt128(window)
    }

    /// `TAT − now`, scaled; the state is normalized so it is never negative.
    private func debt(_ state: State, at now: Int64) -> UInt128 {
        state.scaledArrival.distance(above: scaled(now))
    }

    /// Microseconds from `now` until the debt is at most `target`, or `nil` if it never falls.
    /// The debt falls by `quantity` scaled units per microsecond.
    private func delayUntilDebt(fallsTo target: UInt128, in state: State, at now: Int64) -> Int64? {
        let debt = debt(state, at: now)
        guard debt > target else { return 0 }
        guard quantity > 0 else { return nil }
        return Int64(clamping: (debt - target).dividedRoundingUp(by: UInt128(quantity)))
    }
}

extension Limit {
    /// A stored state as this limit reads it, given the `staleAt` stored with it.
    ///
    /// A GCRA arrival time is scaled by the quantity of the limit that wrote it, and a tier edit
    /// keeps the counter: read with a lower quantity it would lie centuries ahead. Its record's
    /// `staleAt` is the unscaled arrival time rounded up (the instant its debt is paid), whatever
    /// the quantity, so an arrival time beyond `staleAt × quantity` is read as exactly that: the
    /// debt the writer left, in this limit's scale (at most 1 µs stricter). With the writer's own
    /// quantity the arrival time is never beyond it, so nothing changes. A raised quantity reads
    /// the old arrival time as earlier: more lenient, never a lock-out.
    public func reading(_ state: CounterState, staleAt: Timestamp) -> CounterState {
        guard strategy == .gcra, case .gcra(let arrival) = state, staleAt.microseconds < .max else { return state }
        let bound = Int128(staleAt.microseconds) * Int128(quantity)
        return arrival > bound ? .gcra(scaledArrival: bound) : state
    }
}
