internal import CTollgateLMDB
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The LMDB calls a test can make fail (see ``FaultInjection``).
public enum LMDBOperation: Sendable, Hashable {
    case beginTransaction, put, delete, commit, sync, copy
}

#if DEBUG
/// Debug-only seam around LMDB's calls: forces an error at the N-th call of one operation, so
/// tests can prove that `MDB_MAP_FULL`, `ENOSPC`, `EIO` or a failed commit give a clear error,
/// leave no partial state, and that the store works again when the fault clears.
///
/// Compiled out of release builds. A fault fires only on the thread that injected it, so tests
/// running in parallel (in this target or another of the same test process) never see each
/// other's faults; tests that use it still belong in a `.serialized` suite among themselves.
public enum FaultInjection {
    struct Fault {
        var operation: LMDBOperation
        var remainingCalls: Int
        var error: LMDBError
        var repeats: Bool
        /// The thread it fires on — or, when `nil`, any thread working on `path`.
        var thread: pthread_t?
        var path: String?
    }

    static let faults = Mutex<[Fault]>([])

    /// Makes the call of `operation` after `afterCalls` successful ones fail with `error`;
    /// with `repeats`, every call from then on fails until ``clear()``.
    public static func inject(_ error: LMDBError, into operation: LMDBOperation, afterCalls: Int = 0, repeats: Bool = false) {
        let fault = Fault(operation: operation, remainingCalls: afterCalls, error: error, repeats: repeats, thread: pthread_self(), path: nil)
        faults.withLock { $0.append(fault) }
    }

    /// Like ``inject(_:into:afterCalls:repeats:)``, but fires on any thread that works on the
    /// environment at `path` (for background threads: a periodic sync, the group-commit writer).
    public static func inject(_ error: LMDBError, into operation: LMDBOperation, forEnvironmentAt path: String, repeats: Bool = false) {
        let fault = Fault(operation: operation, remainingCalls: 0, error: error, repeats: repeats, thread: nil, path: path)
        faults.withLock { $0.append(fault) }
    }

    /// Removes the faults injected for the environment at `path`.
    public static func clear(forEnvironmentAt path: String) {
        faults.withLock { $0.removeAll { $0.path == path } }
    }

    /// Removes every fault this thread injected.
    public static func clear() {
        let thread = pthread_self()
        faults.withLock { $0.removeAll { fault in fault.thread.map { pthread_equal($0, thread) != 0 } ?? false } }
    }

    static let copyObservers = Mutex<[String: @Sendable (Int32) -> Void]>([:])

    /// Calls `observer` with the descriptor of the copy's `data.mdb` each time the environment
    /// is copied into the directory `path`, after the file is created and before LMDB writes
    /// into it: lets a test see the file's mode and owner as another user would mid-copy.
    public static func observeCopies(into path: String, _ observer: (@Sendable (Int32) -> Void)?) {
        copyObservers.withLock { $0[path] = observer }
    }

    static func observeCopy(into path: String, descriptor: Int32) {
        let observer = copyObservers.withLock { $0[path] }
        observer?(descriptor)
    }

    static func fault(for operation: LMDBOperation, path pathOf: () -> String?) -> Int32? {
        let thread = pthread_self()
        return faults.withLock { faults in
            guard !faults.isEmpty else { return nil }
            // Only looked up when a fault is armed: debug builds stay fast on the hot path.
            let path = faults.contains { $0.path != nil } ? pathOf() : nil
            guard let index = faults.firstIndex(where: { fault in
                guard fault.operation == operation else { return false }
                if let faultThread = fault.thread { return pthread_equal(faultThread, thread) != 0 }
                return fault.path != nil && fault.path == path
            }) else { return nil }
            if faults[index].remainingCalls > 0 {
                faults[index].remainingCalls -= 1
                return nil
            }
            let code = faults[index].error.code
            if !faults[index].repeats { faults.remove(at: index) }
            return code
        }
    }
}
#endif

/// Every LMDB call that a test may want to fail goes through here.
@inline(__always)
func lmdbCall(_ operation: LMDBOperation, path: String? = nil, _ body: () -> Int32) -> Int32 {
    #if DEBUG
    if let code = FaultInjection.fault(for: operation, path: { path }) { return code }
    #endif
    return body()
}

/// ``lmdbCall(_:path:_:)`` for a call inside `transaction`: a fault armed for an environment's
/// path fires here too, so tests can fail the writer thread's puts and commits (group commit).
@inline(__always)
func lmdbCall(_ operation: LMDBOperation, transaction: OpaquePointer, _ body: () -> Int32) -> Int32 {
    #if DEBUG
    if let code = FaultInjection.fault(for: operation, path: { environmentPath(of: transaction) }) { return code }
    #endif
    return body()
}

#if DEBUG
private func environmentPath(of transaction: OpaquePointer) -> String? {
    var path: UnsafePointer<CChar>?
    guard let environment = mdb_txn_env(transaction), mdb_env_get_path(environment, &path) == MDB_SUCCESS, let path else { return nil }
    return String(cString: path)
}
#endif
