extension Duration {
    /// Whole microseconds, rounded toward zero, clamped to the `Int64` range. `Duration` reaches
    /// about ±2⁶³ seconds, a million times more than `Int64` microseconds do.
    package var saturatingMicroseconds: Int64 {
        let (seconds, attoseconds) = components
        return Int64(clamping: Int128(seconds) * 1_000_000 + Int128(attoseconds / 1_000_000_000_000))
    }

    /// Whole nanoseconds, rounded toward zero, clamped to the `Int64` range (about 292 years):
    /// what Dispatch deadlines and metrics take. `seconds * 1e9` traps past 9.2 · 10⁹ s.
    package var saturatingNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return Int64(clamping: Int128(seconds) * 1_000_000_000 + Int128(attoseconds / 1_000_000_000))
    }
}
