// Integer helpers shared by the limiter algorithms. The limiters take quantities up to
// `UInt64.max`, windows up to `Int64.max` and timestamps anywhere in `Int64`, so their
// products live in 128 bits and every conversion back to 64 bits saturates instead of trapping.

extension Int128 {
    /// Division rounding toward negative infinity, so periods before the epoch are aligned like
    /// those after it. `divisor` must be positive.
    func dividedRoundingDown(by divisor: Int128) -> Int128 {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// `self + offset`, or `Int128.max` when the sum is beyond it.
    func saturatingAdding(_ offset: UInt128) -> Int128 {
        let (sum, overflow) = addingReportingOverflow(Int128(clamping: offset))
        return overflow ? .max : sum
    }

    /// `self - other` for `self >= other`. The true difference of two `Int128` values always fits
    /// in `UInt128`, so the wrapped bit pattern read as unsigned is exact.
    func distance(above other: Int128) -> UInt128 {
        UInt128(truncatingIfNeeded: self &- other)
    }
}

extension UInt128 {
    /// Division rounding up, without the `a + b - 1` that could overflow. `divisor` must be positive.
    func dividedRoundingUp(by divisor: UInt128) -> UInt128 {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder == 0 ? quotient : quotient + 1
    }
}

extension UInt64 {
    /// `self - other`, or 0 when `other` is larger.
    func subtractingClampedAtZero(_ other: UInt64) -> UInt64 {
        self > other ? self - other : 0
    }
}

/// Microseconds from `now` until `instant`: 0 if it has passed, `Int64.max` if it is further away
/// than an `Int64` reaches.
func delay(from now: Int64, until instant: Int128) -> Int64 {
    let (difference, overflow) = instant.subtractingReportingOverflow(Int128(now))
    if overflow { return instant > 0 ? .max : 0 }
    return Int64(clamping: max(difference, 0))
}

/// Quotient rounded down and the remainder that goes with it (`0 ≤ remainder < divisor`), for
/// every `value`, `Int64.min` included, and `divisor > 0`.
func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
    let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
    return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
}
