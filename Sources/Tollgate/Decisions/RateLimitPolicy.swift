/// The `q` and `w` a decision reports for each limit (``Decision/LimitStatus/policyQuantity``):
/// the core computes them, since they follow from the limiter's arithmetic; `TollgateHTTP` formats
/// them into the `RateLimit-Policy` header.
extension Limit {
    /// What a `RateLimit-Policy` header announces for this limit: a quantity that `remaining` never
    /// exceeds, and the window in which that quantity becomes available again.
    ///
    /// Window strategies announce their quantity per window. A token bucket or GCRA can hold up to
    /// its burst (``capacity``) at once, which may exceed the refill quantity, so it announces the
    /// burst and the time an empty bucket takes to refill it: `burst × window / quantity`, rounded
    /// up, saturating at `Int64.max`.
    public func rateLimitPolicy(at now: Timestamp) -> (quantity: UInt64, windowMicroseconds: Int64) {
        switch strategy {
        case .fixedWindow, .slidingWindow, .slidingLog, .calendarDay, .calendarMonth:
            return (quantity, windowLength(at: now))
        case .tokenBucket, .gcra:
            guard quantity > 0 else { return (capacity, .max) }
            let refill = (UInt128(capacity) * UInt128(effectiveWindow)).dividedRoundingUp(by: UInt128(quantity))
            return (capacity, Int64(clamping: refill))
        }
    }
}
