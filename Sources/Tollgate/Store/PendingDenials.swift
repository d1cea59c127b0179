import Metrics
import Synchronization
import TollgateLMDB

/// Denied counts for the usage ledger, gathered in memory so a denial never needs a write of
/// its own; written by the next transaction that commits (and at close).
///
/// A writer ``take()``s the counts *before* its transaction and writes them inside it: the
/// transaction body may run twice (map growth), and must write the same counts both times.
/// If the transaction fails, the writer ``restore(_:)``s them for the next one.
final class PendingDenials: Sendable {
    struct Key: Hashable, Sendable {
        var keyID: String
        var day: Int64
    }

    /// Counts taken out for one transaction.
    struct Taken: Sendable {
        fileprivate var counts: [Key: UInt64]

        /// Adds the counts to the usage ledger; run again in a retried transaction, writes them again.
        ///
        /// A count whose day's record is damaged is skipped, not written: failing here would fail
        /// the transaction, the counts would be restored, and every later transaction of the
        /// process — other keys' decisions, `createKey` — would fail on the same record. Returns
        /// how many counts were skipped; the caller reports them with ``PendingDenials/noteSkipped(_:)``
        /// once its transaction committed.
        func write(_ txn: borrowing WriteTransaction, usage: Table) throws -> UInt64 {
            var skipped: UInt64 = 0
            for (key, denied) in counts {
                var record: DailyUsage
                do {
                    record = try DailyUsage.load(txn, usage, keyID: key.keyID, day: key.day)
                } catch is RecordDecodingError {
                    skipped &+= denied
                    continue
                }
                record.denied &+= denied
                try txn.put(record.encoded(), forKey: DailyUsage.tableKey(keyID: key.keyID, day: key.day), in: usage)
            }
            return skipped
        }
    }

    private let pending = Mutex<[Key: UInt64]>([:])
    private let skipped = Mutex<UInt64>(0)
    /// swift-metrics: denied counts dropped because their usage record is damaged.
    private let skippedCounter = Counter(label: "tollgate_denied_counts_skipped")

    /// Denied counts dropped since the store opened because their day's usage record is damaged
    /// (``Store/skippedDeniedCounts``).
    var skippedCount: UInt64 { skipped.withLock { $0 } }

    /// Records counts that a committed transaction skipped.
    func noteSkipped(_ count: UInt64) {
        guard count > 0 else { return }
        skipped.withLock { $0 &+= count }
        skippedCounter.increment(by: Int64(clamping: count))
    }

    func record(keyID: String, day: Int64) {
        pending.withLock { $0[Key(keyID: keyID, day: day), default: 0] &+= 1 }
    }

    /// Every pending count, now no longer pending.
    func take() -> Taken {
        pending.withLock { pending in
            guard !pending.isEmpty else { return Taken(counts: [:]) }
            defer { pending = [:] }
            return Taken(counts: pending)
        }
    }

    /// Makes counts whose transaction did not commit pending again.
    func restore(_ taken: Taken) {
        guard !taken.counts.isEmpty else { return }
        pending.withLock { pending in
            for (key, denied) in taken.counts { pending[key, default: 0] &+= denied }
        }
    }
}
