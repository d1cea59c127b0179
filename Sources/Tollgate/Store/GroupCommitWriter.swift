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
