import Tollgate
import TollgateTestSupport

/// The differential case's reference: an LMDB store driven directly, not through
/// ``LMDBBackend``, so the differential also holds the LMDB conformer to the store it wraps.
final class DifferentialReference: Sendable {
    private let temporary: TemporaryStore
    var store: Store { temporary.store }
    var clock: ManualClock { temporary.clock }

    /// Commits the pending denied counts (the store writes them with its next commit).
    private static let flush = Limit(name: "reference-flush", strategy: .fixedWindow, quantity: 1, windowMicroseconds: 1_000_000, subject: .global)

    init() throws {
        temporary = try TemporaryStore { options in
            options.durability = .periodic(interval: .seconds(3600))
            options.sweepInterval = nil
        }
        temporary.clock.set(ConformanceClock.start)
    }

    func usage(keyID: String) throws(TollgateError) -> [DailyUsage] {
        _ = try store.throttle(synchronously: [Self.flush], subjects: [:], cost: 0)
        return try store.usage(keyID: keyID, days: 3660, now: clock.now())
    }

    func counters() throws(TollgateError) -> [ConformanceCounter] {
        try store.counters()
            .filter { $0.limit != "@" + Self.flush.name }
            .map { ConformanceCounter(subject: $0.subject, name: $0.limit, state: $0.state) }
    }

    func close() { temporary.remove() }
}
