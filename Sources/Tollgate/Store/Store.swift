import Foundation
import Synchronization
import TollgateLMDB

/// A Tollgate store: API keys (as hashes), tiers, counters, usage and audit in one LMDB
/// environment (a directory). Open it once per process and share it; every method is thread-safe.
///
/// ```swift
/// let store = try Store(options: .init(path: "./tollgate-data"))
/// try store.setTier(Tier(name: "free", limits: [.perSecond(10), .perDay(1_000)]))
/// let issued = try store.createKey(NewKey(owner: "acme", tier: "free"))
/// let decision = try await store.authorize(key: issued.secret)
/// ```
public final class Store: Sendable {
    /// How decisions reach the disk. See `Docs/durability.md`.
    public enum Durability: Sendable, Hashable {
        /// Every decision is returned only after its commit is synced to disk. Survives a process
        /// crash and a power loss. Concurrent async callers share one sync (group commit).
        case durable
        /// Decisions' commits are not synced; a background sync runs every `interval` and at
        /// close. Admin writes (keys, tiers, store creation) are still synced before they return.
        /// A process crash (`kill -9`) loses nothing; a power loss or OS crash loses about the
        /// decisions of the last `interval`, and leaves the store consistent only if the file
        /// system preserves write order (LMDB's `MDB_NOSYNC` caveat).
        case periodic(interval: Duration)
    }

    /// Everything needed to open a store.
    public struct Options: Sendable {
        /// The store's directory (created with mode 0700; its files 0600).
        public var path: String
        public var durability: Durability = .durable
        /// The pepper for HMAC-SHA-256 key hashes. A store created with one needs the same one
        /// to open; a store created without cannot be opened with one.
        public var pepper: Pepper?
        /// For a new store: the prefix of the keys it issues.
        public var keyPrefix: String = "tg_live_"
        /// For a new store: whether key hashes use the pepper. Defaults to HMAC when a pepper is given.
        public var hashScheme: KeyHashScheme?
        /// Where "now" comes from.
        public var clock: any TimeSource = SystemClock()
        /// Initial map size; the map grows by itself up to ``maxMapSize``.
        public var mapSize: Int = 64 << 20
        public var maxMapSize: Int = 1 << 40
        public var maxReaders: UInt32 = 256
        /// Open without writing: every mutating method throws ``TollgateError/Code/readOnly``.
        public var readOnly = false
        /// Create the store when the directory holds none.
        public var create = true
        /// How stale a key's "last used" time may get before verification writes it again.
        public var lastUsedResolution: Duration = .seconds(60)
        /// Who lifecycle changes are attributed to in the audit log when a call names nobody.
        public var defaultActor = "api"
        /// How often stale counters and expired rotation-grace records are swept in the background
        /// (in short batches), and reader slots of dead processes cleared; `nil`: only when
        /// ``Store/sweep(at:batchSize:maxBatches:)`` is called (readers are always checked at open).
        public var sweepInterval: Duration? = .seconds(300)
        /// Group commit: the most requests one write transaction takes.
        public var maxBatchSize = 512
        /// Group commit: the most requests that may wait for the writer; more are refused with
        /// ``TollgateError/Code/overloaded``.
        public var maxQueuedRequests = 16_384

        public init(path: String) { self.path = path }
    }

    public let options: Options
    /// The store's identity and settings as recorded at creation.
    public let meta: StoreMeta
    /// The format of the keys this store issues and accepts.
    public let keyFormat: KeyFormat

    let environment: Environment
    let tables: Tables
    let hasher: KeyHasher
    let clock: any TimeSource
    let lastUsedResolution: Int64
    let deniedRecently: DenialMemo
    let pendingDenials: PendingDenials
    let writer: GroupCommitWriter
    let decodedKeys = DecodedRecordCache<KeyHash, StoredKey>(capacity: 16_384)
    let decodedTiers = DecodedRecordCache<String, Tier>(capacity: 256)
    private let backgroundLoops: Mutex<[BackgroundLoop]>
    private let syncFailure = Mutex<TollgateError?>(nil)

    /// In ``Durability/periodic(interval:)`` mode: why the last background sync failed, or `nil`
    /// when it succeeded. While it is set, decisions since the last good sync would not survive a
    /// power loss (a process crash still loses nothing). Report it from a health check.
    public var periodicSyncFailure: TollgateError? { syncFailure.withLock { $0 } }

    /// Denied counts that this store, since it opened, could not add to the usage ledger because
    /// the day's record there is damaged (`check()` reports the record). They are dropped rather
    /// than retried: a damaged record must not stop every other write. Also counted in the
    /// `tollgate_denied_counts_skipped` metric.
    public var skippedDeniedCounts: UInt64 { pendingDenials.skippedCount }

    struct Tables: Sendable {
        let meta: Table
        let keys: Table
        let keyIDs: Table
        let owners: Table
        let tiers: Table
        let counters: Table
        let usage: Table
        let audit: Table
        /// Refunded decisions (added after format 1 shipped; created on the first read-write open,
        /// so a store opened read-only before that has none: `nil`).
        let refundsIfPresent: Table?

        /// Refunds and the sweep run only on a read-write store, which always has the table.
        var refunds: Table {
            get throws(TollgateError) {
                guard let refundsIfPresent else { throw TollgateError(.readOnly, "the store is open read-only") }
                return refundsIfPresent
            }
        }

        /// Every table, in the order `stats` shows them.
        var all: [Table] { [meta, keys, keyIDs, owners, tiers, counters, usage, audit] }

        func table(for dumped: DumpTable) -> Table {
            switch dumped {
            case .meta: meta
            case .tiers: tiers
            case .keys: keys
            case .counters: counters
            case .usage: usage
            case .audit: audit
            }
        }
    }

    /// Opens the store at `options.path`, creating it when missing (unless `create` is off).
    ///
    /// Throws ``TollgateError/Code/notFound`` when there is no store and `create` is off (or the
    /// open is read-only), ``TollgateError/Code/neverSynced`` for a store whose data file is empty
    /// (created, then lost to a power cut before its first sync) unless `create` is on,
    /// ``TollgateError/Code/unsupportedFormat`` for a store of another format version (left as it was),
    /// ``TollgateError/Code/pepperMismatch`` when the pepper does not fit the store,
    /// ``TollgateError/Code/structuralDamage`` for a read-write open of a store whose last check
    /// found its LMDB structure damaged (see ``Store/checkStructure(path:)``), and
    /// ``TollgateError/Code/storage`` when LMDB cannot open it (including: already open in this process).
    public init(options: Options) throws(TollgateError) {
        var envOptions = Environment.Options(path: options.path)
        envOptions.mapSize = options.mapSize
        envOptions.maxMapSize = options.maxMapSize
        envOptions.maxReaders = options.maxReaders
        envOptions.maxTables = 16
        envOptions.readOnly = options.readOnly
        envOptions.create = options.create
        if case .periodic = options.durability { envOptions.durability = .noSync }
        try Self.checkDataFile(options)
        if !options.readOnly { try Self.refuseIfStructurallyDamaged(path: options.path) }
        let environment: Environment
        do { environment = try Environment(options: envOptions) } catch {
            throw TollgateError(.storage, "cannot open the store at \(options.path)", underlying: error)
        }
        do {
            // The format is checked first, in a read transaction, before anything is written: a
            // store this build refuses (a newer format) must stay byte-identical.
            let existing = try Self.readExistingMeta(environment)
            if existing == nil && (options.readOnly || !options.create) {
                throw TollgateError(.notFound, "\(options.path) holds no Tollgate store")
            }
            let tables = try Self.openTables(environment, readOnly: options.readOnly)
            let meta: StoreMeta
            if let existing { meta = existing } else { meta = try Self.createMeta(environment, tables, options) }
            try Self.checkPepper(meta, options.pepper)
            self.tables = tables
            self.meta = meta
            self.keyFormat = try KeyFormat(prefix: meta.keyPrefix)
        } catch {
            environment.close()
            throw Self.mapError(error, "open the store")
        }
        self.options = options
        self.environment = environment
        self.hasher = KeyHasher(scheme: meta.hashScheme, pepper: options.pepper)
        self.clock = options.clock
        self.lastUsedResolution = Self.microseconds(options.lastUsedResolution)
        self.deniedRecently = DenialMemo()
        self.pendingDenials = PendingDenials()
        self.writer = GroupCommitWriter(
            environment: environment, maxBatchSize: options.maxBatchSize, maxQueued: options.maxQueuedRequests,
            pendingDenials: pendingDenials, usage: tables.usage)
        self.backgroundLoops = Mutex([])
        if !options.readOnly { startBackgroundWork() }
    }

    deinit { shutdown() }

    /// Flushes what is pending (denied counts; in periodic mode, a final sync) and closes the store.
    /// Later calls throw ``TollgateError/Code/closed``. Idempotent.
    public func close() { shutdown() }

    private func shutdown() {
        guard !environment.isClosed else { return }
        let loops = backgroundLoops.withLock { loops in
            defer { loops.removeAll() }
            return loops
        }
        for loop in loops { loop.stop() }
        writer.stop()
        if !options.readOnly {
            _ = try? write("write the denied counts", as: .decision) { _ in }
            try? environment.sync(force: true)
        }
        environment.close()
    }

    private func startBackgroundWork() {
        var loops: [BackgroundLoop] = []
        if case .periodic(let interval) = options.durability {
            loops.append(BackgroundLoop(name: "tollgate-sync", every: interval) { [weak self] in
                guard let self else { return }
                do {
                    try environment.sync(force: true)
                    syncFailure.withLock { $0 = nil }
                } catch {
                    syncFailure.withLock { $0 = Self.mapError(error, "sync the store to disk") }
                }
            })
        }
        if let interval = options.sweepInterval {
            // The loop must not keep the store alive, or `deinit` (which stops it) never runs.
            loops.append(BackgroundLoop(name: "tollgate-sweep", every: interval) { [weak self] in
                guard let self else { return }
                // Reader slots of processes that died (their snapshots would pin old pages).
                _ = try? self.environment.checkReaders()
                _ = try? self.sweep()
            })
        }
        backgroundLoops.withLock { $0 = loops }
    }

    // MARK: Opening

    private static func openTables(_ environment: Environment, readOnly: Bool) throws(TollgateError) -> Tables {
        func open(_ name: String) throws(TollgateError) -> Table {
            do {
                guard let table = try environment.table(named: name, create: !readOnly) else {
                    throw TollgateError(.corruptRecord, "the store has no \(name) table")
                }
                return table
            } catch let error as TollgateError {
                throw error
            } catch {
                throw TollgateError(.storage, "cannot open table \(name)", underlying: error)
            }
        }
        func optional(_ name: String) throws(TollgateError) -> Table? {
            do { return try environment.table(named: name, create: !readOnly) } catch {
                throw TollgateError(.storage, "cannot open table \(name)", underlying: error)
            }
        }
        return Tables(
            meta: try open("meta"), keys: try open("keys"), keyIDs: try open("keyIDs"), owners: try open("owners"),
            tiers: try open("tiers"), counters: try open("counters"), usage: try open("usage"), audit: try open("audit"),
            refundsIfPresent: try optional("refunds"))
    }

    static let metaKey = Array("store".utf8)

    /// A 0-byte `data.mdb` is what LMDB leaves when a store was created and the machine lost
    /// power before the first sync. LMDB would answer a read-only open with EBADF (it tries to
    /// write the first meta page) and a read-write one by silently creating a new, empty store:
    /// both hide what happened. Only a caller who asked to create a store gets one over it.
    private static func checkDataFile(_ options: Options) throws(TollgateError) {
        var info = stat()
        guard stat(options.path + "/data.mdb", &info) == 0 else {
            if !options.create { throw TollgateError(.notFound, "no store at \(options.path)") }
            return
        }
        if info.st_size == 0 && (options.readOnly || !options.create) {
            throw TollgateError(.neverSynced, "the store at \(options.path) was never synced: its data file is empty")
        }
    }

    /// The meta record, read without creating anything; `nil` when the environment holds no store.
    private static func readExistingMeta(_ environment: Environment) throws(TollgateError) -> StoreMeta? {
        try storageCall("read the store's meta record") {
            guard let meta = try environment.table(named: "meta", create: false) else { return nil }
            return try environment.read { txn in try readMeta(txn, meta: meta) }
        }
    }

    private static func createMeta(_ environment: Environment, _ tables: Tables, _ options: Options) throws(TollgateError) -> StoreMeta {
        let scheme = options.hashScheme ?? (options.pepper == nil ? .sha256 : .hmacSHA256)
        if scheme == .hmacSHA256 && options.pepper == nil {
            throw TollgateError(.pepperMismatch, "an HMAC-SHA-256 store needs a pepper")
        }
        _ = try KeyFormat(prefix: options.keyPrefix)
        let now = options.clock.now()
        let created = StoreMeta(
            formatVersion: StoreMeta.currentFormatVersion,
            storeID: randomHex(bytes: 16),
            createdAt: now,
            hashScheme: scheme,
            pepperFingerprint: scheme == .hmacSHA256 ? options.pepper!.fingerprint : [],
            keyPrefix: options.keyPrefix,
            policyGeneration: 0)
        let meta = try storageCall("create the store") {
            try environment.write { txn -> StoreMeta in
                // Another process may have created it meanwhile: theirs wins.
                if let theirs = try readMeta(txn, tables) { return theirs }
                for table in [tables.keys, tables.tiers, tables.counters] where try txn.statistics(of: table).entries > 0 {
                    throw TollgateError(.corruptRecord, "the store has records but no meta record")
                }
                try txn.put(created.encoded(), forKey: metaKey, in: tables.meta)
                try appendAudit(txn, tables, AuditEvent(at: now, kind: .storeCreated, actor: options.defaultActor, subject: created.storeID, detail: "format \(created.formatVersion), \(scheme)"))
                return created
            }
        }
        // A new store is an admin write like any other: its tables and meta record must not be
        // left to the first periodic sync (a power cut before it leaves an empty data file).
        try syncAdminWrite(environment, options.durability, "create the store")
        return meta
    }

    static func readMeta(_ txn: borrowing some ReadableTransaction & ~Copyable, _ tables: Tables) throws -> StoreMeta? {
        try readMeta(txn, meta: tables.meta)
    }

    static func readMeta(_ txn: borrowing some ReadableTransaction & ~Copyable, meta: Table) throws -> StoreMeta? {
        try txn.withValue(in: meta, forKey: metaKey) { bytes throws(TollgateError) -> StoreMeta in
            let version: UInt32
            do { version = try StoreMeta.formatVersion(of: bytes) } catch {
                throw TollgateError(.corruptRecord, "the meta record is damaged", underlying: error)
            }
            guard version == StoreMeta.currentFormatVersion else {
                throw TollgateError(.unsupportedFormat, "the store has format version \(version); this Tollgate reads version \(StoreMeta.currentFormatVersion)")
            }
            do { return try StoreMeta.decode(bytes) } catch {
                throw TollgateError(.corruptRecord, "the meta record is damaged", underlying: error)
            }
        }
    }

    private static func checkPepper(_ meta: StoreMeta, _ pepper: Pepper?) throws(TollgateError) {
        switch (meta.hashScheme, pepper) {
        case (.sha256, nil): return
        case (.sha256, .some):
            throw TollgateError(.pepperMismatch, "this store hashes keys without a pepper, but one was given")
        case (.hmacSHA256, nil):
            throw TollgateError(.pepperMismatch, "this store hashes keys with a pepper (HMAC-SHA-256); none was given")
        case (.hmacSHA256, .some(let pepper)):
            guard pepper.fingerprint == meta.pepperFingerprint else {
                throw TollgateError(.pepperMismatch, "the pepper given is not the one this store was created with")
            }
        }
    }

    // MARK: Helpers shared by the store's parts

    func now(_ at: Timestamp?) -> Timestamp { at ?? clock.now() }

    static func microseconds(_ duration: Duration) -> Int64 { duration.saturatingMicroseconds }

    func ensureWritable() throws(TollgateError) {
        if options.readOnly { throw TollgateError(.readOnly, "the store is open read-only") }
    }

    /// A read snapshot, mapping storage failures to ``TollgateError``.
    func read<R>(_ what: String, _ body: (borrowing ReadTransaction) throws -> R) throws(TollgateError) -> R {
        try Self.storageCall(what) { try environment.read(body) }
    }

    /// What a write is, for when it must reach the disk.
    enum WriteKind {
        /// Keys, tiers, counter resets: on disk before the call returns, in every mode. Periodic
        /// mode relaxes decisions only — a revocation made just before a power cut must not
        /// come back.
        case admin
        /// Decisions and their bookkeeping (refunds, denied counts, sweeps): in periodic mode,
        /// synced by the background sync.
        case decision
    }

    /// A write transaction (not batched), mapping storage failures to ``TollgateError``.
    /// Also writes the pending denied counts (taken before the transaction, whose body may run
    /// twice; made pending again if it fails). An ``WriteKind/admin`` write is synced before it
    /// returns also in periodic mode.
    func write<R>(_ what: String, as kind: WriteKind = .admin, _ body: (borrowing WriteTransaction) throws -> R) throws(TollgateError) -> R {
        try ensureWritable()
        let denials = pendingDenials.take()
        let result: R
        var skipped: UInt64 = 0
        do {
            result = try Self.storageCall(what) {
                try environment.write { txn in
                    let result = try body(txn)
                    skipped = try denials.write(txn, usage: tables.usage)
                    return result
                }
            }
        } catch {
            pendingDenials.restore(denials)
            throw error
        }
        pendingDenials.noteSkipped(skipped)
        if kind == .admin { try Self.syncAdminWrite(environment, options.durability, what) }
        return result
    }

    /// In periodic mode, flushes an admin write that just committed (durable mode synced it in
    /// its commit already).
    static func syncAdminWrite(_ environment: Environment, _ durability: Durability, _ what: String) throws(TollgateError) {
        guard case .periodic = durability else { return }
        do { try environment.sync(force: true) } catch {
            throw TollgateError(.storage, "cannot \(what): the change was committed but could not be synced to disk", underlying: error)
        }
    }

    static func storageCall<R>(_ what: String, _ body: () throws -> R) throws(TollgateError) -> R {
        do { return try body() } catch { throw mapError(error, what) }
    }

    /// Any failure as a ``TollgateError``: storage errors keep LMDB's code as the cause.
    static func mapError(_ error: any Error, _ what: String) -> TollgateError {
        switch error {
        case let error as TollgateError:
            return error
        case let error as RecordDecodingError:
            return TollgateError(.corruptRecord, "cannot \(what): a stored record is damaged", underlying: error)
        case let error as LMDBError:
            if error.code == LMDBError.invalidArgument.code, error.context == "environment is closed" {
                return TollgateError(.closed, "the store is closed")
            }
            return TollgateError(.storage, "cannot \(what)", underlying: error)
        default:
            return TollgateError(.storage, "cannot \(what): \(error)")
        }
    }

    /// Appends an audit event under `time · transaction id · sequence`, unique across processes.
    /// Appends `event` under (time, transaction id, sequence). Only this transaction writes keys
    /// with its id, so the next sequence number is the one after the last key under the prefix:
    /// one seek per event, however many the transaction has written (probing 0, 1, 2… made a
    /// transaction of n events cost n²/2 lookups). The sequence is a u16 of the on-disk format;
    /// the 65,537th event of one transaction at one instant is refused, failing the transaction,
    /// never dropped.
    static func appendAudit(_ txn: borrowing WriteTransaction, _ tables: Tables, _ event: AuditEvent) throws {
        var prefix: [UInt8] = []
        prefix.appendBigEndian(event.at.microseconds)
        prefix.appendBigEndian(UInt64(txn.id))
        var highest = prefix
        highest.appendBigEndian(UInt16.max)
        let next: Int = try txn.withCursor(over: tables.audit) { cursor in
            let atOrAfter = try cursor.seek(atLeast: highest)
            if let atOrAfter, atOrAfter.key.elementsEqual(highest) { return Int(UInt16.max) + 1 }
            // LMDB leaves the cursor unpositioned when the seek runs off the end.
            guard let before = try atOrAfter == nil ? cursor.last() : cursor.previous(),
                  before.key.count == highest.count, before.key.starts(with: prefix) else { return 0 }
            return (Int(before.key[16]) << 8 | Int(before.key[17])) + 1
        }
        guard next <= Int(UInt16.max) else {
            throw TollgateError(.storage, "more than \(Int(UInt16.max) + 1) audit events in one transaction at one instant; the transaction is refused rather than lose one")
        }
        var key = prefix
        key.appendBigEndian(UInt16(next))
        try txn.put(event.encoded(), forKey: key, in: tables.audit, mode: .noOverwrite)
    }

    func audit(_ txn: borrowing WriteTransaction, _ kind: AuditEvent.Kind, actor: String?, subject: String, detail: String, at: Timestamp) throws {
        try Self.appendAudit(txn, tables, AuditEvent(at: at, kind: kind, actor: actor ?? options.defaultActor, subject: subject, detail: detail))
    }
}

func randomHex(bytes count: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    let digits = Array("0123456789abcdef".utf8)
    var result: [UInt8] = []
    for _ in 0..<count {
        let byte = UInt8.random(in: 0...255, using: &generator)
        result.append(digits[Int(byte >> 4)])
        result.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: result, as: UTF8.self)
}
