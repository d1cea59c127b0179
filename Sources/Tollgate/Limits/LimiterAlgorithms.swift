// The pure limiter functions. Each strategy supplies its arithmetic as a `LimiterAlgorithm`;
// the rules every strategy shares (a nil or foreign state is fresh, cost 0 always passes, a
// rejection changes nothing, what "stale" means) are written once, in the extension below.
// Formulas and trade-offs: Docs/limits.md.

extension Limit {
    /// The pure limiter function: `(state, cost, now) -> (check, newState)`.
    ///
    /// - A `nil` state, or a state of another strategy's case (a tier was edited), is fresh.
    /// - When the check is denied, the returned state is the old state normalized to `now`
    ///   (windows rolled over, bucket refilled): a rejected request consumes nothing.
    /// - Cost 0 is always allowed and consumes nothing.
    /// - `retryAfter` is exact: the same request is allowed at `now + retryAfter` and would be
    ///   denied one microsecond earlier (if nothing else consumes in between). It is 0 when
    ///   allowed and when ``LimitCheck/neverFits`` is set.
    /// - `remaining` is the largest cost that would be allowed right now, after this request.
    public func evaluate(_ state: CounterState?, cost: UInt64, at now: Timestamp) -> (check: LimitCheck, state: CounterState) {
        // A switch over the concrete algorithms rather than `algorithm` (an existential): every
        // decision runs this, and the specialized code is several times faster.
        let now = now.microseconds
        switch strategy {
        case .fixedWindow, .calendarDay, .calendarMonth:
            return WindowCounter(quantity: quantity, periods: periodScheme).evaluate(state, cost: cost, at: now)
        case .slidingWindow:
            return SlidingWindow(quantity: quantity, window: effectiveWindow).evaluate(state, cost: cost, at: now)
        case .tokenBucket:
            return TokenBucket(refill: quantity, window: effectiveWindow, capacity: capacity).evaluate(state, cost: cost, at: now)
        case .gcra:
            return GCRA(quantity: quantity, window: effectiveWindow, burst: capacity).evaluate(state, cost: cost, at: now)
        case .slidingLog:
            return SlidingLog(quantity: quantity, window: effectiveWindow).evaluate(state, cost: cost, at: now)
        }
    }

    /// Gives back `cost` previously consumed (after a failed upstream call). Never gives back more
    /// than the state allows: a count never goes below 0, a bucket never above its capacity, a
    /// GCRA arrival time never before `now`. Cost consumed in a window that has since ended is
    /// not given back.
    ///
    /// Returns `nil` only for a `nil` or foreign state: it already reads as fresh, so there is
    /// nothing to write.
    public func refund(_ state: CounterState?, cost: UInt64, at now: Timestamp) -> CounterState? {
        algorithm.refund(state, cost: cost, at: now.microseconds)
    }

    /// Gives back what is still in force of one earlier charge of `cost`: the one that left this
    /// limit's counter in the state `charged` (what ``evaluate(_:cost:at:)`` returned for it).
    ///
    /// A window strategy gives the cost back only while the window it was charged in still
    /// counts (the sliding window: while it is the current or the previous window; the sliding
    /// log: while the charge's entry is still in the log); a bucket
    /// gives back only what the refill has not repaid since (token bucket and GCRA). So a refund
    /// never admits more than the limit would have without the charge.
    ///
    /// Returns `nil` when there is nothing to write: a `nil` state, a state or charge of another
    /// strategy's case (a tier was edited), or a charge no longer in force.
    public func refund(_ state: CounterState?, charged: CounterState, cost: UInt64, at now: Timestamp) -> CounterState? {
        algorithm.refund(state, charged: charged, cost: cost, at: now.microseconds)
    }

    /// True when the stored state can no longer affect any decision at `now` or later: normalized
    /// to `now`, it equals a fresh state. The background sweeper deletes such counters.
    public func isStale(_ state: CounterState, at now: Timestamp) -> Bool {
        algorithm.isStale(state, at: now.microseconds)
    }

    /// The effective window in microseconds: the length of the current calendar period for
    /// calendar strategies, otherwise ``windowMicroseconds`` (at least 1).
    public func windowLength(at now: Timestamp) -> Int64 {
        switch strategy {
        case .calendarDay, .calendarMonth:
            Int64(clamping: periodScheme.period(containing: now.microseconds).length)
        case .fixedWindow, .slidingWindow, .tokenBucket, .gcra, .slidingLog:
            effectiveWindow
        }
    }

    /// The configured window; a non-positive window (a configuration error) counts as 1 µs rather
    /// than trapping.
    var effectiveWindow: Int64 { max(windowMicroseconds, 1) }

    private var periodScheme: PeriodScheme {
        switch strategy {
        case .calendarDay: .fixed(length: PeriodScheme.microsecondsPerDay)
        case .calendarMonth: .calendarMonth
        case .fixedWindow, .slidingWindow, .tokenBucket, .gcra, .slidingLog: .fixed(length: effectiveWindow)
        }
    }

    var algorithm: any LimiterAlgorithm {
        switch strategy {
        case .fixedWindow, .calendarDay, .calendarMonth:
            WindowCounter(quantity: quantity, periods: periodScheme)
        case .slidingWindow:
            SlidingWindow(quantity: quantity, window: effectiveWindow)
        case .tokenBucket:
            TokenBucket(refill: quantity, window: effectiveWindow, capacity: capacity)
        case .gcra:
            GCRA(quantity: quantity, window: effectiveWindow, burst: capacity)
        case .slidingLog:
            SlidingLog(quantity: quantity, window: effectiveWindow)
        }
    }
}

/// One strategy's arithmetic over its own view of the state, normalized to a point in time.
///
/// All times are microseconds since the epoch; `cost` passed to `admitting`/`retryAfter` is > 0.
protocol LimiterAlgorithm {
    associatedtype State

    /// A state that has seen nothing, at `now`.
    func fresh(at now: Int64) -> State
    /// `stored` brought forward to `now` (windows rolled, bucket refilled), or `nil` when it is
    /// another strategy's case.
    func normalized(_ stored: CounterState, at now: Int64) -> State?
    func encoded(_ state: State) -> CounterState

    /// The state after consuming `cost`, or `nil` when the cost does not fit now.
    func admitting(_ cost: UInt64, to state: State, at now: Int64) -> State?
    /// The largest cost that fits now.
    func remaining(in state: State, at now: Int64) -> UInt64
    /// Microseconds until the limit is fully available again.
    func resetAfter(_ state: State, at now: Int64) -> Int64
    /// Microseconds until `cost` fits, or `nil` when waiting can never make it fit. Only asked
    /// when it does not fit now.
    func retryAfter(_ cost: UInt64, in state: State, at now: Int64) -> Int64?
    func refunding(_ cost: UInt64, to state: State, at now: Int64) -> State
    /// `state` with what is still in force of the charge of `cost` that left `charged` given
    /// back, or `nil` when nothing of it is (or `charged` is another strategy's case).
    func refunding(_ cost: UInt64, charged: CounterState, to state: State, at now: Int64) -> State?
}

extension LimiterAlgorithm {
    func current(_ stored: CounterState?, at now: Int64) -> State {
        stored.flatMap { normalized($0, at: now) } ?? fresh(at: now)
    }

    func evaluate(_ stored: CounterState?, cost: UInt64, at now: Int64) -> (check: LimitCheck, state: CounterState) {
        let state = current(stored, at: now)
        // Cost 0 must pass even when a tier was edited below the stored count.
        if let next = cost == 0 ? state : admitting(cost, to: state, at: now) {
            let check = LimitCheck(
                allowed: true,
                remaining: remaining(in: next, at: now),
                resetAfter: resetAfter(next, at: now),
                retryAfter: 0,
                neverFits: false
            )
            return (check, encoded(next))
        }
        let retry = retryAfter(cost, in: state, at: now)
        let check = LimitCheck(
            allowed: false,
            remaining: remaining(in: state, at: now),
            resetAfter: resetAfter(state, at: now),
            retryAfter: retry ?? 0,
            neverFits: retry == nil
        )
        return (check, encoded(state))
    }

    func refund(_ stored: CounterState?, cost: UInt64, at now: Int64) -> CounterState? {
        guard let stored, let state = normalized(stored, at: now) else { return nil }
        return encoded(refunding(cost, to: state, at: now))
    }

    func refund(_ stored: CounterState?, charged: CounterState, cost: UInt64, at now: Int64) -> CounterState? {
        guard cost > 0, let stored, let state = normalized(stored, at: now),
              let refunded = refunding(cost, charged: charged, to: state, at: now)
        else { return nil }
        return encoded(refunded)
    }

    func isStale(_ stored: CounterState, at now: Int64) -> Bool {
        // Normalizing composes (normalizing at t1 then at t2 >= t1 equals normalizing at t2) and
        // every check is a function of the normalized state, so equality now holds at every later time.
        encoded(current(stored, at: now)) == encoded(fresh(at: now))
    }
}
