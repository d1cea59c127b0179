internal import CTollgateLMDB
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An open LMDB environment: one directory holding `data.mdb` and `lock.mdb`.
///
/// Safe to share between threads and tasks. Transactions are handed to synchronous closures:
/// ``read(_:)`` and ``write(_:)``. Several processes may open the same directory at once;
/// within one process a directory can be open only once (a second open throws ``LMDBError/busy``).
public final class Environment: Sendable {
    /// How commits reach the disk.
    public enum Durability: Sendable, Hashable {
        /// LMDB's default: every commit is synced before it returns. Survives power loss.
        case durable
        /// `MDB_NOSYNC`: commits are not synced; call ``Environment/sync(force:)`` yourself.
        /// A process crash loses nothing (the data is in the OS page cache); a power loss or
        /// OS crash may lose commits since the last sync, but does not corrupt the file.
        case noSync
        /// `MDB_NOMETASYNC`: the meta page is not synced at commit; a power loss may lose the
        /// last commit but not corrupt the file.
        case noMetaSync
    }

    /// What to open and how.
    public struct Options: Sendable {
        /// The environment's directory. Created (mode 0700) when missing and ``create`` is set.
        public var path: String
        /// The initial map size in bytes. The map grows by itself when full.
        public var mapSize: Int = 64 << 20
        /// The largest the map may grow to. A write that needs more throws ``LMDBError/mapFull``.
        public var maxMapSize: Int = 1 << 40
        /// Reader slots shared by every process that opens the environment.
        public var maxReaders: UInt32 = 126
        /// How many named tables may exist.
        public var maxTables: UInt32 = 16
        public var durability: Durability = .durable
        /// Open without write access (`MDB_RDONLY`): writes throw ``LMDBError/permissionDenied``.
        public var readOnly = false
        /// Create the directory and files when missing.
        public var create = true

        public init(path: String) { self.path = path }
    }

    public let options: Options
    private let env: EnvironmentPointer
    var handle: OpaquePointer { env.pointer }
    private let identity: FileIdentity
    private let state: Mutex<State>
    /// Shared by every transaction of this process, exclusive while the map size changes:
    /// `mdb_env_set_mapsize` may only run when this process has no transaction open.
    private let mapLock: ReadWriteLock
    /// Per-thread bookkeeping: how many transactions this thread holds, and whether one
    /// is a write (a nested write would deadlock on LMDB's writer mutex).
    private let threadState: ThreadLocalWord
    #if DEBUG
    /// See ``syncCount``.
    private let syncs = Atomic<Int>(0)
    #endif

    private struct State {
        var isClosed = false
        var mapSize: Int
        var tables: [String: Table] = [:]
    }

    /// Opens (or creates) the environment at `options.path`.
    ///
    /// Checks for stale reader slots left by crashed processes and clears them. Creates files with
    /// mode 0600. Throws ``LMDBError/busy`` if this process already has it open.
    public init(options: Options) throws(LMDBError) {
        let path = options.path
        if options.create && !options.readOnly {
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw LMDBError(code: errno, context: "cannot create directory \(path)")
            }
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw LMDBError(code: errno, context: "cannot open \(path)") }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw LMDBError(code: ENOTDIR, context: "\(path) is not a directory") }
        let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        try OpenEnvironments.claim(identity, path: path)

        var envPointer: OpaquePointer?
        do throws(LMDBError) {
            try check(mdb_env_create(&envPointer), "mdb_env_create")
            guard let env = envPointer else { throw LMDBError.outOfMemory }
            try check(mdb_env_set_maxreaders(env, options.maxReaders), "mdb_env_set_maxreaders")
            try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxTables)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_mapsize(env, options.mapSize), "mdb_env_set_mapsize")
            var flags = UInt32(MDB_NOTLS)
            switch options.durability {
            case .durable: break
            case .noSync: flags |= UInt32(MDB_NOSYNC)
            case .noMetaSync: flags |= UInt32(MDB_NOMETASYNC)
            }
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            try check(mdb_env_open(env, path, flags, 0o600), "cannot open the LMDB environment at \(path)")
            var dead: Int32 = 0
            try check(mdb_reader_check(env, &dead), "mdb_reader_check")
            // The file may be larger than asked for (another process grew it): adopt its size.
            var envInfo = MDB_envinfo()
            mdb_env_info(env, &envInfo)
            self.env = EnvironmentPointer(pointer: env)
            self.state = Mutex(State(mapSize: envInfo.me_mapsize))
        } catch {
            if let envPointer { mdb_env_close(envPointer) }
            OpenEnvironments.release(identity)
            throw error
        }
        self.options = options
        self.identity = identity
        self.mapLock = ReadWriteLock()
        self.threadState = ThreadLocalWord()
    }

    deinit { closeNow() }

    /// Closes the environment, waiting for transactions of other threads to finish.
    /// Later calls throw ``LMDBError/invalidArgument`` ("environment is closed"). Idempotent.
    public func close() { closeNow() }

    private func closeNow() {
        mapLock.lockExclusive()
        defer { mapLock.unlockExclusive() }
        let wasOpen = state.withLock { state in
            defer { state.isClosed = true }
            return !state.isClosed
        }
        guard wasOpen else { return }
        mdb_env_close(handle)
        OpenEnvironments.release(identity)
    }

    public var isClosed: Bool { state.withLock { $0.isClosed } }

    // MARK: Transactions

    /// Runs `body` in a read-only snapshot. Values it sees are valid only inside `body`.
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        try withSharedMapLock(isWrite: false) { () throws -> R in
            let txn = try beginTransaction(flags: UInt32(MDB_RDONLY))
            defer { mdb_txn_abort(txn) }
            return try body(ReadTransaction(handle: txn))
        }
    }

    /// Runs `body` in a write transaction: commits when it returns, aborts when it throws.
    ///
    /// - The body may run **more than once**: when the map is full, the transaction is aborted,
    ///   the map grown and the body run again. It must only touch the store through `txn`
    ///   (or be otherwise safe to repeat).
    /// - The first LMDB error inside the body wins: if any operation failed, the transaction is
    ///   aborted and that error thrown, even if the body caught it and returned normally.
    /// - Writes are serialized across threads and processes by LMDB's writer lock.
    /// - A nested write on the same thread would deadlock; it traps with a message instead.
    public func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        precondition(!threadState.isWriting,
                     "TollgateLMDB: nested write transaction on one thread would deadlock on LMDB's writer lock")
        while true {
            do {
                return try withSharedMapLock(isWrite: true) { () throws -> R in
                    let txn = try beginTransaction(flags: 0)
                    enterPhase(.write)
                    defer { leavePhase(.write) }
                    var firstError: Int32 = 0
                    let result: R
                    do {
                        result = try withUnsafeMutablePointer(to: &firstError) { errorSlot in
                            try body(WriteTransaction(handle: txn, firstError: errorSlot))
                        }
                    } catch {
                        mdb_txn_abort(txn)
                        if firstError != 0 {
                            // The failed operation's own error, when it escaped the body, says which one.
                            if let failed = error as? LMDBError, failed.code == firstError { throw failed }
                            throw LMDBError(code: firstError, context: "write transaction")
                        }
                        throw error
                    }
                    if firstError != 0 {
                        mdb_txn_abort(txn)
                        throw LMDBError(code: firstError, context: "write transaction (an operation failed; nothing was committed)")
                    }
                    #if DEBUG
                    let committing = Int(mdb_txn_id(txn))
                    #endif
                    // mdb_txn_commit frees the handle whether it succeeds or not.
                    var freed = false
                    enterPhase(.commit)
                    let rc = lmdbCall(.commit, transaction: txn) { freed = true; return mdb_txn_commit(txn) }
                    leavePhase(.commit)
                    if !freed { mdb_txn_abort(txn) }
                    try check(rc, "commit")
                    #if DEBUG
                    countDurableCommit(committing)
                    #endif
                    return result
                }
            } catch LMDBError.mapFull {
                try growMap()
            }
        }
    }

    private func beginTransaction(flags: UInt32) throws(LMDBError) -> OpaquePointer {
        while true {
            if state.withLock({ $0.isClosed }) { throw LMDBError(code: EINVAL, context: "environment is closed") }
            var txn: OpaquePointer?
            let rc = lmdbCall(.beginTransaction) { mdb_txn_begin(handle, nil, flags, &txn) }
            if rc == MDB_MAP_RESIZED {
                try adoptResizedMap()
                continue
            }
            try check(rc, "begin transaction")
            guard let txn else { throw LMDBError.badTransaction }
            return txn
        }
    }

    private func withSharedMapLock<R>(isWrite: Bool, _ body: () throws -> R) throws -> R {
        let depth = threadState.depth
        // A thread already holding the lock must not take it again: with a waiting resizer,
        // a writer-preferring lock would deadlock on the recursive acquisition.
        if depth == 0 { mapLock.lockShared() }
        threadState.set(depth: depth + 1, writing: isWrite || threadState.isWriting)
        defer {
            threadState.set(depth: depth, writing: isWrite ? false : threadState.isWriting)
            if depth == 0 { mapLock.unlockShared() }
        }
        return try body()
    }

    /// Another process grew the map: take its size (needs this process to hold no transaction).
    private func adoptResizedMap() throws(LMDBError) {
        guard threadState.depth == 1 else {
            throw LMDBError(code: MDB_MAP_RESIZED, context: "the map was grown by another process while this thread holds another transaction")
        }
        try withExclusiveMapLock { () throws(LMDBError) in
            try check(mdb_env_set_mapsize(handle, 0), "adopt the map size")
            var envInfo = MDB_envinfo()
            mdb_env_info(handle, &envInfo)
            state.withLock { $0.mapSize = envInfo.me_mapsize }
        }
    }

    /// Doubles the map (up to 1 GiB steps) within ``Options/maxMapSize``.
    private func growMap() throws(LMDBError) {
        guard threadState.depth == 0 else {
            throw LMDBError(code: MDB_MAP_FULL, context: "cannot grow the map while this thread holds another transaction")
        }
        try withExclusiveMapLock { () throws(LMDBError) in
            let current = state.withLock { $0.mapSize }
            let step = min(max(current, 1 << 20), 1 << 30)
            let target = min(current + step, options.maxMapSize)
            guard target > current else {
                throw LMDBError(code: MDB_MAP_FULL, context: "the map reached maxMapSize (\(options.maxMapSize) bytes)")
            }
            try check(mdb_env_set_mapsize(handle, target), "grow the map")
            var envInfo = MDB_envinfo()
            mdb_env_info(handle, &envInfo)
            state.withLock { $0.mapSize = envInfo.me_mapsize }
        }
    }

    /// Runs `body` with no transaction of this process open. This thread must hold none.
    private func withExclusiveMapLock(_ body: () throws(LMDBError) -> Void) throws(LMDBError) {
        let depth = threadState.depth
        let writing = threadState.isWriting
        if depth > 0 { mapLock.unlockShared() }
        mapLock.lockExclusive()
        defer {
            mapLock.unlockExclusive()
            if depth > 0 { mapLock.lockShared() }
            threadState.set(depth: depth, writing: writing)
        }
        if state.withLock({ $0.isClosed }) { throw LMDBError(code: EINVAL, context: "environment is closed") }
        try body()
    }

    // MARK: Tables

    /// The named table, opened once and cached. Creates it when `create` is set and the
    /// environment is writable; otherwise a missing table is `nil`.
    public func table(named name: String, create: Bool = true) throws -> Table? {
        if let table = state.withLock({ $0.tables[name] }) { return table }
        let open = { (txn: OpaquePointer, flags: UInt32) throws(LMDBError) -> Table? in
            var dbi: MDB_dbi = 0
            let rc = mdb_dbi_open(txn, name, flags, &dbi)
            if rc == MDB_NOTFOUND { return nil }
            try check(rc, "open table \(name)")
            return Table(id: dbi, name: name)
        }
        let table: Table?
        if create && !options.readOnly {
            table = try write { txn in try open(txn.handle, UInt32(MDB_CREATE)) }
        } else {
            // A handle opened in a read transaction outlives it only if that transaction commits.
            table = try withSharedMapLock(isWrite: false) { () throws -> Table? in
                let txn = try beginTransaction(flags: UInt32(MDB_RDONLY))
                let table: Table?
                do { table = try open(txn, 0) } catch {
                    mdb_txn_abort(txn)
                    throw error
                }
                try check(mdb_txn_commit(txn), "open table \(name)")
                return table
            }
        }
        if let table { state.withLock { $0.tables[name] = table } }
        return table
    }

    // MARK: Maintenance

    /// Flushes the data to disk (`mdb_env_sync`); with `force`, even in ``Durability/noSync`` mode.
    public func sync(force: Bool = true) throws(LMDBError) {
        try withOpenHandle { handle throws(LMDBError) in
            enterPhase(.sync)
            defer { leavePhase(.sync) }
            try check(lmdbCall(.sync, path: options.path) { mdb_env_sync(handle, force ? 1 : 0) }, "sync")
        }
        #if DEBUG
        // Without `force`, LMDB skips the flush of an `MDB_NOSYNC` environment.
        if force || options.durability != .noSync { syncs.add(1, ordering: .relaxed) }
        #endif
    }

    #if DEBUG
    /// Debug-only: how often this environment (this `Environment` object, since it opened) made
    /// its committed data durable — commits that wrote something in ``Durability/durable`` mode
    /// (LMDB syncs inside `mdb_txn_commit`) plus successful flushing ``sync(force:)`` calls.
    ///
    /// The seam that lets tests observe durability: a power cut cannot be simulated in CI, and
    /// `kill -9` cannot tell a synced commit from one still in the page cache.
    public var syncCount: Int { syncs.load(ordering: .relaxed) }

    /// Counts a commit that LMDB synced: one in durable mode that wrote pages. An empty
    /// transaction commits without writing or syncing; it is told apart by the meta page's
    /// transaction id, which moves only when a commit was written.
    private func countDurableCommit(_ committed: Int) {
        guard options.durability == .durable else { return }
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        if Int(info.me_last_txnid) >= committed { syncs.add(1, ordering: .relaxed) }
    }
    #endif

    /// Clears reader slots of processes that no longer exist; returns how many.
    @discardableResult
    public func checkReaders() throws(LMDBError) -> Int {
        try withOpenHandle { handle throws(LMDBError) in
            var dead: Int32 = 0
            try check(mdb_reader_check(handle, &dead), "mdb_reader_check")
            return Int(dead)
        }
    }

    /// A consistent copy of the environment into the directory `path` (which must exist and not
    /// hold a `data.mdb`), taken from a read snapshot while writers go on. `compact` omits free
    /// pages. The copy's `data.mdb` is created here, mode 0600, before LMDB writes a byte into
    /// it: `mdb_env_copy2` would create it 0666 (less the umask) and leave a window in which
    /// another user can open it and keep the descriptor. `O_EXCL | O_NOFOLLOW` refuse an
    /// existing file or a planted symbolic link instead of writing through it.
    public func copy(to path: String, compact: Bool = false) throws(LMDBError) {
        try withOpenHandle { handle throws(LMDBError) in
            let file = path + "/data.mdb"
            let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw LMDBError(code: errno, context: "create \(file)") }
            #if DEBUG
            FaultInjection.observeCopy(into: path, descriptor: descriptor)
            #endif
            enterPhase(.backup)
            let rc = lmdbCall(.copy) { mdb_env_copyfd2(handle, descriptor, compact ? UInt32(MDB_CP_COMPACT) : 0) }
            // mdb_env_copy2 syncs the copy before closing it; so must we, or a power cut right
            // after a "backed up" leaves an empty or partial file.
            let synced = rc == 0 ? fsync(descriptor) : 0
            let syncErrno = errno
            leavePhase(.backup)
            Glibc.close(descriptor)
            if rc != 0 {
                unlink(file)
                try check(rc, "copy to \(path)")
            }
            guard synced == 0 else {
                unlink(file)
                throw LMDBError(code: syncErrno, context: "sync the copy at \(path)")
            }
        }
    }

    /// Facts about the map and its readers (`mdb_env_info`). The environment must be open.
    public func info() -> EnvironmentInfo {
        do {
            return try withOpenHandle { handle throws(LMDBError) in
                var info = MDB_envinfo()
                mdb_env_info(handle, &info)
                var stat = MDB_stat()
                mdb_env_stat(handle, &stat)
                return EnvironmentInfo(
                    mapSize: info.me_mapsize,
                    lastPageNumber: Int(info.me_last_pgno),
                    lastTransactionID: Int(info.me_last_txnid),
                    maxReaders: Int(info.me_maxreaders),
                    readersInUse: occupiedReaderSlots(handle),
                    readerSlotsUsed: Int(info.me_numreaders),
                    pageSize: Int(stat.ms_psize)
                )
            }
        } catch {
            preconditionFailure("TollgateLMDB: info() on a closed environment")
        }
    }

    /// Runs `body` with the handle while the environment can neither close nor change its map
    /// (both free memory that LMDB's calls read). Throws ``LMDBError/invalidArgument`` when closed.
    private func withOpenHandle<R>(_ body: (OpaquePointer) throws(LMDBError) -> R) throws(LMDBError) -> R {
        // A thread inside a transaction already holds the lock (see withSharedMapLock).
        let holdsLock = threadState.depth > 0
        if !holdsLock { mapLock.lockShared() }
        defer { if !holdsLock { mapLock.unlockShared() } }
        if state.withLock({ $0.isClosed }) { throw LMDBError(code: EINVAL, context: "environment is closed") }
        return try body(handle)
    }

    /// The LMDB library's version string.
    public static var libraryVersion: String { String(cString: mdb_version(nil, nil, nil)) }
}

/// What `mdb_env_info` says.
public struct EnvironmentInfo: Sendable, Hashable {
    public var mapSize: Int
    public var lastPageNumber: Int
    public var lastTransactionID: Int
    public var maxReaders: Int
    /// Reader slots now held, by every process: one per open read transaction, plus slots left
    /// by dead processes until ``Environment/checkReaders()`` clears them.
    public var readersInUse: Int
    /// The high-water mark of reader slots used since the lock file was set up
    /// (`me_numreaders`); it never goes down while the environment stays open somewhere.
    public var readerSlotsUsed: Int
    public var pageSize: Int
    /// Bytes of the map in use: (last page number + 1) × page size.
    public var usedBytes: Int { (lastPageNumber + 1) * pageSize }
}

/// How many reader slots have a process id (`mdb_reader_list` prints one line for each).
private func occupiedReaderSlots(_ env: OpaquePointer) -> Int {
    var count = 0
    _ = mdb_reader_list(env, { message, context in
        // A slot's line starts with its pid; the header and "(no active readers)" do not.
        guard let message, let context else { return 0 }
        var first = message
        while first.pointee == 0x20 { first += 1 }
        if first.pointee >= 0x30 && first.pointee <= 0x39 {
            context.assumingMemoryBound(to: Int.self).pointee += 1
        }
        return 0
    }, &count)
    return count
}

/// The `MDB_env *`.
///
/// `@unchecked Sendable`: LMDB allows every call made through it from any thread once the
/// environment is open with `MDB_NOTLS`; the one exception, `mdb_env_close` (and
/// `mdb_env_set_mapsize`), runs only while ``Environment``'s map lock is held exclusively,
/// that is, while no transaction of this process is open.
struct EnvironmentPointer: @unchecked Sendable {
    let pointer: OpaquePointer
}

// MARK: - Process-wide registry

struct FileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64
}

/// LMDB forbids opening one environment twice in a process (its locks are per process):
/// doing so silently breaks them. So a second open is refused.
enum OpenEnvironments {
    static let open = Mutex<Set<FileIdentity>>([])

    static func claim(_ identity: FileIdentity, path: String) throws(LMDBError) {
        let inserted = open.withLock { $0.insert(identity).inserted }
        if !inserted { throw LMDBError(code: EBUSY, context: "\(path) is already open in this process") }
    }

    static func release(_ identity: FileIdentity) {
        _ = open.withLock { $0.remove(identity) }
    }
}

// MARK: - Locks

/// A writer-preferring `pthread_rwlock_t`.
///
/// `@unchecked Sendable`: the lock lives at a fixed heap address for the object's whole life,
/// and pthread locks are made to be shared between threads.
final class ReadWriteLock: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func lockShared() { pthread_rwlock_rdlock(lock) }
    func unlockShared() { pthread_rwlock_unlock(lock) }
    func lockExclusive() { pthread_rwlock_wrlock(lock) }
    func unlockExclusive() { pthread_rwlock_unlock(lock) }
}

/// One machine word per thread (a `pthread_key_t`): transaction depth and a writing bit.
///
/// `@unchecked Sendable`: the key is created once in `init` and never changes; each thread only
/// reads and writes its own slot.
final class ThreadLocalWord: @unchecked Sendable {
    private var key = pthread_key_t()

    init() { pthread_key_create(&key, nil) }
    deinit { pthread_key_delete(key) }

    private var word: UInt {
        UInt(bitPattern: pthread_getspecific(key))
    }

    var depth: Int { Int(word >> 1) }
    var isWriting: Bool { word & 1 == 1 }

    func set(depth: Int, writing: Bool) {
        let word = UInt(depth) << 1 | (writing ? 1 : 0)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: word))
    }
}
