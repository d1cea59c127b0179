import Synchronization
import TollgateLMDB

/// One decision waiting for the group-commit writer, answered exactly once: by the writer after
/// its transaction, or earlier by a cancellation or a refused submission.
///
/// `@unchecked Sendable`: `outcome` and `body` are touched only by the writer thread, in `run`
/// and `finish` (the job is handed to it by `submit`, behind the queue's lock, before either
/// runs); everything else is behind `state`'s lock.
final class DecisionJob: GroupCommitJob, @unchecked Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<Decision, TollgateError>, Never>?
        /// Set when answered before a continuation was attached (cancelled early).
        var earlyAnswer: Result<Decision, TollgateError>?
        var answered = false
    }

    private let operation: String
    /// Holds the `Store`; dropped in `finish`, before the caller is answered (see there).
    private var body: (@Sendable (borrowing WriteTransaction) throws -> Decision)?
    private let state = Mutex(State())
    private var outcome: Result<Decision, TollgateError>?

    init(operation: String, _ body: @escaping @Sendable (borrowing WriteTransaction) throws -> Decision) {
        self.operation = operation
        self.body = body
    }

    /// Returns `false` when the job was answered already (then `continuation` has been resumed).
    func attach(_ continuation: CheckedContinuation<Result<Decision, TollgateError>, Never>) -> Bool {
        let early: Result<Decision, TollgateError>? = state.withLock { state in
            if let answer = state.earlyAnswer { return answer }
            state.continuation = continuation
            return nil
        }
        guard let early else { return true }
        continuation.resume(returning: early)
        return false
    }

    /// Answers now unless answered already.
    func answer(_ result: Result<Decision, TollgateError>) {
        let continuation: CheckedContinuation<Result<Decision, TollgateError>, Never>? = state.withLock { state in
            guard !state.answered else { return nil }
            state.answered = true
            guard let continuation = state.continuation else {
                state.earlyAnswer = result
                return nil
            }
            state.continuation = nil
            return continuation
        }
        continuation?.resume(returning: result)
    }

    private var isAnswered: Bool { state.withLock { $0.answered } }

    func run(_ txn: borrowing WriteTransaction) {
        // Cancelled while queued: nothing to decide, nobody waiting.
        guard !isAnswered, let body else { return }
        do {
            outcome = .success(try body(txn))
        } catch {
            // This request alone fails; the batch goes on. (A failed LMDB operation dooms the
            // whole transaction anyway: `Environment.write` then refuses to commit it.)
            outcome = .failure(Store.mapError(error, operation))
        }
    }

    func finish(transactionError: (any Error)?) {
        // The body holds the store. Let go of it while the caller still waits (and so still holds
        // the store too): the caller, not the writer thread, then drops the last reference and
        // closes a store it never closed — when its own reference goes, not some time later.
        // (A caller answered early, by a timeout or a cancellation, may be gone already; then the
        // store is released here, on the writer thread, which `GroupCommitWriter.stop()` allows.)
        body = nil
        if let transactionError {
            answer(.failure(Store.mapError(transactionError, operation)))
        } else {
            answer(outcome ?? .failure(TollgateError(.cancelled, "\(operation) was cancelled before it ran")))
        }
    }
}
