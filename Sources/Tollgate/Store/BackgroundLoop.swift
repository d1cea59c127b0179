import Dispatch
import Foundation

/// Runs `work` every `interval` on a thread of its own — not on Swift's cooperative pool, where
/// blocking on `fsync` or LMDB's writer lock would starve async tasks — until ``stop()``.
final class BackgroundLoop: Sendable {
    private let stopped = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)
    private let name: String

    init(name: String, every interval: Duration, _ work: @escaping @Sendable () -> Void) {
        self.name = name
        let nanoseconds = Int(max(1_000_000, interval.saturatingNanoseconds))
        let thread = Thread { [stopped, exited] in
            while stopped.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut {
                work()
            }
            exited.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Stops the loop and waits for a run in progress to end.
    func stop() {
        stopped.signal()
        // The store can be released on this loop's own thread (its work holds the last
        // reference for a moment); waiting for ourselves would never end.
        if Thread.current.name != name { exited.wait() }
    }
}
