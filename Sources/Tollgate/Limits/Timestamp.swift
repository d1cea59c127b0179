/// A point in time: whole microseconds since the Unix epoch, UTC.
///
/// Limiter windows persist across restarts and processes, so Tollgate counts in wall-clock
/// time, not in a monotonic clock. Integers throughout: no floating-point drift.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }
    public init(seconds: Int64) { self.microseconds = seconds * 1_000_000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    public func adding(microseconds delta: Int64) -> Timestamp { Timestamp(microseconds: microseconds &+ delta) }

    public var description: String { iso8601 }

    /// `2026-01-31T12:00:00.000000Z`: UTC, to the microsecond.
    public var iso8601: String {
        let seconds = floorDivide(microseconds, 1_000_000)
        let days = floorDivide(seconds, 86_400)
        let date = CivilDate(daysSinceEpoch: days)
        let secondOfDay = seconds - days * 86_400
        let fraction = microseconds - seconds * 1_000_000
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(date.year, 4))-\(pad(date.month, 2))-\(pad(date.day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(fraction, 6))Z"
    }
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
