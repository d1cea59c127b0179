import Synchronization

/// The LMDB calls a test can make fail (see ``FaultInjection``).
public enum LMDBOperation: Sendable, Hashable {
    case beginTransaction, put, delete, commit, sync, copy
}

#if DEBUG
/// Debug-only seam around LMDB's calls: forces an error at the N-th call of one operation, so
/// tests can prove that `MDB_MAP_FULL`, `ENOSPC`, `EIO` or a failed commit give a clear error,
/// leave no partial state, and that the store works again when the fault clears.
///
/// Compiled out of release builds. Process-wide: tests that use it must not run in parallel
/// with other tests of the same process that write (put them in one `.serialized` suite).
public enum FaultInjection {
    struct Fault {
        var operation: LMDBOperation
        var remainingCalls: Int
        var error: LMDBError
        var repeats: Bool
    }

    static let faults = Mutex<[Fault]>([])

    /// Makes the call of `operation` after `afterCalls` successful ones fail with `error`;
    /// with `repeats`, every call from then on fails until ``clear()``.
    public static func inject(_ error: LMDBError, into operation: LMDBOperation, afterCalls: Int = 0, repeats: Bool = false) {
        faults.withLock { $0.append(Fault(operation: operation, remainingCalls: afterCalls, error: error, repeats: repeats)) }
    }

    /// Removes every injected fault.
    public static func clear() { faults.withLock { $0.removeAll() } }

    static func fault(for operation: LMDBOperation) -> Int32? {
        faults.withLock { faults in
            guard let index = faults.firstIndex(where: { $0.operation == operation }) else { return nil }
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
func lmdbCall(_ operation: LMDBOperation, _ body: () -> Int32) -> Int32 {
    #if DEBUG
    if let code = FaultInjection.fault(for: operation) { return code }
    #endif
    return body()
}
