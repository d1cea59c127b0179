import Dispatch
import Foundation
import Metrics
import Synchronization
import TollgateLMDB

/// Work for the writer thread: runs inside a shared write transaction, then learns whether that
/// transaction committed.
protocol GroupCommitJob: AnyObject, Sendable {
    /// Runs inside the batch's transaction. Must catch its own failures (one request's error must
    /// not poison the batch) and may be run again if the transaction is retried after map growth.
    ///
    /// Must be all or nothing inside the shared transaction: every read and decode that can fail
    /// comes before its first write, so that once it writes, only an LMDB error can stop it —
    /// and that dooms the whole batch. A job that wrote and then threw would have its writes
    /// committed with everyone else's.
    func run(_ txn: borrowing WriteTransaction)
    /// Called once, after the transaction committed (`nil`) or failed (the error).
    func finish(transactionError: (any Error)?)
}

/// Group commit: one thread takes every waiting job, runs them one after another in one write
/// transaction (each sees the effects of those before it, so the result equals serial execution),
/// commits — and in durable mode syncs — once, then answers them all.
///
/// The thread is not one of Swift's cooperative pool: blocking on LMDB's writer lock or on
/// `fsync` never starves async tasks.
final class GroupCommitWriter: Sendable {
    private struct Queue {
        var jobs: [any GroupCommitJob] = []
        var head = 0
        var isStopping = false
        var isStopped = false
        var waiting: Int { jobs.count - head }
    }

    private let environment: Environment
    private let maxBatchSize: Int
    private let maxQueued: Int
    private let pendingDenials: PendingDenials
    private let usage: Table
    private let queue = Mutex(Queue())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Mutex(false)
    /// The writer thread, once it runs: `stop()` called on it must not wait for it.
    private let writerThread = Mutex<pthread_t?>(nil)
    private let batchSizes = Mutex(BatchStatistics())
    /// swift-metrics: requests per batch, and how long each batch's transaction took to commit
    /// (and sync, in durable mode). No-ops until the application bootstraps a metrics backend.
    private let batchSizeRecorder = Recorder(label: "tollgate_writer_batch_size")
    private let commitTimer = Metrics.Timer(label: "tollgate_writer_commit_duration")

    struct BatchStatistics: Sendable {
        var batches = 0
        var jobs = 0
        var largest = 0
    }

    /// Every batch's transaction also writes the denied counts gathered in `pendingDenials` into
    /// the `usage` table.
    init(environment: Environment, maxBatchSize: Int, maxQueued: Int, pendingDenials: PendingDenials, usage: Table) {
        self.environment = environment
        self.maxBatchSize = max(1, maxBatchSize)
        self.maxQueued = max(1, maxQueued)
        self.pendingDenials = pendingDenials
        self.usage = usage
    }

    /// Queues `job`; throws ``TollgateError/Code/overloaded`` when the queue is full and
    /// ``TollgateError/Code/closed`` after ``stop()``.
    func submit(_ job: any GroupCommitJob) throws(TollgateError) {
        if queue.withLock({ $0.isStopping }) { throw TollgateError(.closed, "the store is closed") }
        startIfNeeded()
        let accepted: TollgateError? = queue.withLock { queue in
            if queue.isStopping { return TollgateError(.closed, "the store is closed") }
            if queue.waiting >= maxQueued {
                return TollgateError(.overloaded, "\(queue.waiting) requests are waiting for the writer; try again shortly")
            }
            queue.jobs.append(job)
            return nil
        }
        // Also on refusal: a thread started by a submit that raced with `stop()` then sees the
        // stop and ends.
        wakeUp.signal()
        if let accepted { throw accepted }
    }

    /// Batches run so far: for metrics and the benchmark.
    var statistics: BatchStatistics { batchSizes.withLock { $0 } }

    /// Answers every queued job, then ends the thread. Idempotent.
    ///
    /// Called on the writer thread itself — the `Store` released there, by the last job holding
    /// it — it does not wait: the thread would wait for itself forever, and the store would
    /// never close. The thread is then between batches, so nothing is left to answer (every job
    /// of a store holds the store), and it ends after the current batch.
    func stop() {
        let wasRunning: Bool = queue.withLock { queue in
            defer { queue.isStopping = true }
            return !queue.isStopping
        }
        guard wasRunning, started.withLock({ $0 }) else { return }
        wakeUp.signal()
        let onWriterThread = writerThread.withLock { thread in thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        if !onWriterThread { finished.wait() }
    }

    private func startIfNeeded() {
        let start = started.withLock { started in
            defer { started = true }
            return !started
        }
        guard start else { return }
        let thread = Thread { [self] in self.runLoop() }
        thread.name = "tollgate-writer"
        thread.start()
    }

    private func runLoop() {
        writerThread.withLock { $0 = pthread_self() }
        while true {
            wakeUp.wait()
            while let batch = takeBatch() {
                runBatch(batch)
            }
            let done = queue.withLock { queue in
                guard queue.isStopping, queue.waiting == 0 else { return false }
                queue.isStopped = true
                return true
            }
            if done {
                finished.signal()
                return
            }
        }
    }

    private func takeBatch() -> [any GroupCommitJob]? {
        queue.withLock { queue in
            guard queue.waiting > 0 else { return nil }
            let end = min(queue.jobs.count, queue.head + maxBatchSize)
            let batch = Array(queue.jobs[queue.head..<end])
            queue.head = end
            if queue.head == queue.jobs.count {
                queue.jobs.removeAll(keepingCapacity: true)
                queue.head = 0
            } else if queue.head > 4096 {
                queue.jobs.removeFirst(queue.head)
                queue.head = 0
            }
            return batch
        }
    }

    private func runBatch(_ batch: [any GroupCommitJob]) {
        // Taken before the transaction: a body run again after map growth writes the same counts.
        let denials = pendingDenials.take()
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            let skipped = try environment.write { txn in
                for job in batch { job.run(txn) }
                return try denials.write(txn, usage: usage)
            }
            pendingDenials.noteSkipped(skipped)
            commitTimer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
            batchSizeRecorder.record(batch.count)
            batchSizes.withLock { stats in
                stats.batches += 1
                stats.jobs += batch.count
                stats.largest = max(stats.largest, batch.count)
            }
            for job in batch { job.finish(transactionError: nil) }
        } catch {
            pendingDenials.restore(denials)
            for job in batch { job.finish(transactionError: error) }
        }
    }
}

/// Remembers keys recently refused by a limit, so that while they stay refused their requests
/// are answered from a read snapshot without taking the write lock. Only routes requests: the
/// read-only path evaluates the real stored state, so a stale entry costs a little time, never
/// a wrong answer.
final class DenialMemo: Sendable {
    private let deniedUntil = Mutex<[KeyHash: Int64]>([:])
    private let capacity = 65_536

    func isDenied(_ hash: KeyHash, at now: Timestamp) -> Bool {
        deniedUntil.withLock { memo in
            guard let until = memo[hash] else { return false }
            if now.microseconds < until { return true }
            memo[hash] = nil
            return false
        }
    }

    func remember(_ hash: KeyHash, until: Timestamp) {
        deniedUntil.withLock { memo in
            if memo.count >= capacity {
                let now = until.microseconds
                memo = memo.filter { $0.value > now }
                if memo.count >= capacity { memo.removeAll() }
            }
            memo[hash] = until.microseconds
        }
    }

    func forget(_ hash: KeyHash) {
        _ = deniedUntil.withLock { $0.removeValue(forKey: hash) }
    }
}

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

extension DailyUsage {
    /// The stored record of `keyID` for `day`, or an empty one; throws when it is damaged.
    static func load<T: ReadableTransaction & ~Copyable>(_ txn: borrowing T, _ table: Table, keyID: String, day: Int64) throws -> DailyUsage {
        try txn.withValue(in: table, forKey: tableKey(keyID: keyID, day: day)) { try decode($0, day: day) }
            ?? DailyUsage(day: day, allowed: 0, denied: 0, consumed: 0)
    }

    static func update(_ txn: borrowing WriteTransaction, _ table: Table, keyID: String, day: Int64, _ change: (inout DailyUsage) -> Void) throws {
        var usage = try load(txn, table, keyID: keyID, day: day)
        change(&usage)
        try txn.put(usage.encoded(), forKey: tableKey(keyID: keyID, day: day), in: table)
    }
}
