public import Tollgate
import Synchronization

/// A clock that moves only when told: windows, refills and expiry become exact in tests.
public final class ManualClock: TimeSource {
    private let current: Mutex<Timestamp>

    /// Starts at `start` (default: 2026-01-01T00:00:00Z, so calendar quotas have a known day).
    public init(_ start: Timestamp = Timestamp(seconds: 1_767_225_600)) {
        current = Mutex(start)
    }

    public func now() -> Timestamp { current.withLock { $0 } }

    /// Moves the clock forward (or back, with a negative amount).
    public func advance(microseconds: Int64) {
        current.withLock { $0 = $0.adding(microseconds: microseconds) }
    }

    public func advance(by duration: Duration) {
        current.withLock { $0 = $0.adding(duration) }
    }

    public func set(_ time: Timestamp) { current.withLock { $0 = time } }
}
