/// A point in time: whole microseconds since the Unix epoch, UTC.
///
/// Limiter windows persist across restarts and processes, so Tollgate counts in wall-clock
/// time, not in a monotonic clock. Integers throughout: no floating-point drift.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }
    /// Clamped to the `Int64` range of microseconds (about ±292,000 years), never a trap.
    public init(seconds: Int64) {
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        self.microseconds = overflow ? (seconds > 0 ? .max : .min) : product
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    // Every instant and duration Tollgate adds or subtracts goes through the three helpers
    // below. Stored times and caller-supplied times may be anything in `Int64`, so each one
    // saturates at the ends of the timeline instead of trapping or wrapping: a wrapped sum turns
    // "far in the future" into "long ago" (an expiry already passed, a grace already over).

    /// `self` moved by `delta` microseconds, clamped to `Int64.min ... Int64.max`.
    public func adding(microseconds delta: Int64) -> Timestamp {
        let (sum, overflow) = microseconds.addingReportingOverflow(delta)
        return Timestamp(microseconds: overflow ? (delta > 0 ? .max : .min) : sum)
    }

    /// `self` moved by `duration` (whole microseconds, rounded toward zero), clamped like
    /// ``adding(microseconds:)``.
    public func adding(_ duration: Duration) -> Timestamp {
        adding(microseconds: duration.saturatingMicroseconds)
    }

    /// Microseconds from `earlier` to `self` (negative when `earlier` is later), clamped to the
    /// `Int64` range: the distance between two `Int64` instants can exceed it.
    public func microseconds(since earlier: Timestamp) -> Int64 {
        let (difference, overflow) = microseconds.subtractingReportingOverflow(earlier.microseconds)
        return overflow ? (microseconds > earlier.microseconds ? .max : .min) : difference
    }

    public var description: String { iso8601 }

    /// `2026-01-31T12:00:00.000000Z`: UTC, to the microsecond.
    public var iso8601: String {
        // Remainders, not `seconds * 1_000_000`: that overflows near `Int64.min` (a stored
        // timestamp may be anything; the records fuzz target found this).
        let (seconds, fraction) = floorDivision(microseconds, 1_000_000)
        let (days, secondOfDay) = floorDivision(seconds, 86_400)
        return "\(Self.isoDate(day: days))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(fraction, 6))Z"
    }

    /// The UTC day this instant falls in, as days since 1970-01-01 (the usage ledger's day, a
    /// daily refill's period): the one day-of-timestamp of the engine.
    var daysSinceEpoch: Int64 { floorDivision(microseconds, 86_400_000_000).quotient }

    /// `2026-01-31`: the UTC date of a day given as days since 1970-01-01. Any day an `Int64`
    /// timestamp can name, and any `UInt32` day of the usage table (a stored day may be anything).
    public static func isoDate(day: Int64) -> String {
        let date = CivilDate(daysSinceEpoch: day)
        return "\(pad(date.year, 4))-\(pad(date.month, 2))-\(pad(date.day, 2))"
    }
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// Where "now" comes from. Production uses ``SystemClock``; tests inject a manual clock.
public protocol TimeSource: Sendable {
    func now() -> Timestamp
}

/// The system's wall clock (`CLOCK_REALTIME`).
public struct SystemClock: TimeSource {
    public init() {}
    public func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(microseconds: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
