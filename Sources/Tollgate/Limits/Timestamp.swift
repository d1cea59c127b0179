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

    public var description: String { "\(microseconds)µs" }
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
