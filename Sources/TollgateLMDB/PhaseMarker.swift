import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where in LMDB a thread can be when its process is killed (see ``PhaseMarker``). The raw value
/// is the phase's byte in the marker file.
public enum LMDBPhase: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// Between `mdb_txn_begin` of a write transaction and the end of its commit (so it includes
    /// ``commit``); waiting for the writer lock does not count.
    case write
    /// Inside `mdb_txn_commit` (in durable mode this includes LMDB's own `fdatasync`).
    case commit
    /// Inside `mdb_env_sync` (periodic sync, `close()`, admin writes).
    case sync
    /// Inside `mdb_env_copyfd2` and the `fsync` of the copy (`backup(to:)`).
    case backup

    public var description: String {
        switch self {
        case .write: "write"
        case .commit: "commit"
        case .sync: "sync"
        case .backup: "backup"
        }
    }
}

#if DEBUG
/// Debug-only: publishes which ``LMDBPhase``s this process's threads are in, in a file that a
/// parent which kills the process with SIGKILL reads afterwards — so the crash suite can show
/// that its kills land inside writes, commits and backups instead of assuming it.
///
/// Off unless the environment variable `TOLLGATE_PHASE_FILE` names a file when the first phase
/// is entered. The file is mapped shared, so every store into it is in the page cache at once
/// and survives the kill without any `write(2)`. Byte `phase.rawValue` holds how many threads
/// are inside that phase (saturating at 255).
public enum PhaseMarker {
    public static let environmentVariable = "TOLLGATE_PHASE_FILE"

    /// The phases marked in the file at `path`: what the killed process was doing. Empty if the
    /// file is missing (the process never entered a phase).
    public static func phases(inFileAt path: String) -> Set<LMDBPhase> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return [] }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: LMDBPhase.allCases.count)
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return [] }
        return Set(LMDBPhase.allCases.filter { $0.rawValue < count && bytes[$0.rawValue] > 0 })
    }

    struct State {
        /// The mapped page; `nil` when marking is off.
        var page: UnsafeMutablePointer<UInt8>?
        var depths = [Int](repeating: 0, count: LMDBPhase.allCases.count)
    }

    /// Checked without the lock, so that unmarked processes (every other test) pay nothing more.
    static let enabled: Bool = getenv(environmentVariable) != nil

    static let state = Mutex<State>(State(page: mapFile()))

    private static func mapFile() -> UnsafeMutablePointer<UInt8>? {
        guard let path = getenv(environmentVariable).map({ String(cString: $0) }), !path.isEmpty else { return nil }
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        let size = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard ftruncate(descriptor, off_t(size)) == 0,
              let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), mapped != MAP_FAILED
        else { return nil }
        return mapped.assumingMemoryBound(to: UInt8.self)
    }

    static func change(_ phase: LMDBPhase, by delta: Int) {
        guard enabled else { return }
        state.withLock { state in
            guard let page = state.page else { return }
            state.depths[phase.rawValue] += delta
            page[phase.rawValue] = UInt8(clamping: state.depths[phase.rawValue])
        }
    }
}
#endif

/// Marks the calling thread as inside `phase` until the matching ``leavePhase(_:)``; nothing in
/// release builds.
@inline(__always)
func enterPhase(_ phase: LMDBPhase) {
    #if DEBUG
    PhaseMarker.change(phase, by: 1)
    #endif
}

@inline(__always)
func leavePhase(_ phase: LMDBPhase) {
    #if DEBUG
    PhaseMarker.change(phase, by: -1)
    #endif
}
