public import Tollgate
import TollgateLMDB
import Crypto
import Foundation

/// The tier every engine benchmark key is on: two limits (fixed window per second + calendar day),
/// both far too large to be reached, so every decision is allowed and writes both counters.
public let benchTier = Tier(name: "bench", limits: [
    Limit(name: "second", strategy: .fixedWindow, quantity: 1_000_000_000, windowMicroseconds: 1_000_000),
    Limit(name: "day", strategy: .calendarDay, quantity: 1_000_000_000_000, windowMicroseconds: 86_400_000_000),
])

/// The stores and keys of the in-process engine benchmark (row 1) and the LMDB floor (row 2).
/// The timing executable and the allocation-counting one run exactly these workloads.
public final class EngineWorkloads: Sendable {
    public let root: String
    /// Periodic sync (`MDB_NOSYNC`, background sync every 100 ms).
    public let periodic: Store
    public let periodicKey: String
    /// A key on a 1-per-hour tier, already used once: every later decision refuses it.
    public let limitedKey: String
    /// A key with a broken checksum: refused by the parser.
    public let malformedKey: String
    public let durable: Store
    public let durableKey: String
    /// Periodic mode whose background sync runs only every hour: the same decisions without a
    /// concurrent `fdatasync` of the file every 100 ms (a diagnostic row).
    public let rarelySynced: Store
    public let rarelySyncedKey: String
    public let floor: LMDBFloor

    public init(root: String) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let periodicOptions = Self.options(root + "/periodic", durability: .periodic(interval: .milliseconds(100)))
        let (setup, key) = try Self.openStore(periodicOptions)
        setup.close()
        let keyRecordBytes = try Self.keyRecordSize(path: periodicOptions.path)
        periodic = try Store(options: periodicOptions)
        periodicKey = key
        try periodic.setTier(Tier(name: "tiny", limits: [.perHour(1)]))
        limitedKey = try periodic.createKey(NewKey(owner: "bench", tier: "tiny")).secret
        let first: Decision = try periodic.authorize(key: limitedKey)
        guard first.isAllowed else { throw BenchFailure("the over-limit key's first decision was \(first.outcome)") }
        let last = periodicKey.last!
        malformedKey = String(periodicKey.dropLast()) + (last == "a" ? "b" : "a")
        (durable, durableKey) = try Self.openStore(Self.options(root + "/durable", durability: .durable))
        (rarelySynced, rarelySyncedKey) = try Self.openStore(Self.options(root + "/hourly", durability: .periodic(interval: .seconds(3600))))
        floor = try LMDBFloor(path: root + "/floor", presentedKey: key, keyRecordBytes: keyRecordBytes)
        try check()
    }

    public func close() {
        periodic.close()
        durable.close()
        rarelySynced.close()
        floor.close()
        try? FileManager.default.removeItem(atPath: root)
    }

    static func options(_ path: String, durability: Store.Durability) -> Store.Options {
        var options = Store.Options(path: path)
        options.durability = durability
        return options
    }

    static func openStore(_ options: Store.Options) throws -> (Store, String) {
        let store = try Store(options: options)
        try store.setTier(benchTier)
        let key = try store.createKey(NewKey(owner: "bench", tier: "bench"))
        return (store, key.secret)
    }

    /// The largest record in a store's keys table (the store must be closed: LMDB refuses to open
    /// one environment twice in a process).
    static func keyRecordSize(path: String) throws -> Int {
        var options = Environment.Options(path: path)
        options.readOnly = true
        let environment = try Environment(options: options)
        defer { environment.close() }
        guard let keys = try environment.table(named: "keys", create: false) else { throw BenchFailure("no keys table") }
        return try environment.read { txn in
            var largest = 0
            try txn.forEach(in: keys) { _, value in
                largest = max(largest, value.count)
                return .continue
            }
            return largest
        }
    }

    /// Every workload does what its row says: fail loudly otherwise.
    func check() throws {
        let allowed: Decision = try periodic.authorize(key: periodicKey)
        guard allowed.isAllowed, allowed.limits.count == 2 else { throw BenchFailure("periodic authorize: \(allowed.outcome)") }
        guard try periodic.peek(key: periodicKey).isAllowed else { throw BenchFailure("peek was not allowed") }
        let malformed: Decision = try periodic.authorize(key: malformedKey)
        guard malformed.outcome == .malformedKey else { throw BenchFailure("malformed key: \(malformed.outcome)") }
        let limited: Decision = try periodic.authorize(key: limitedKey)
        guard limited.outcome == .rateLimited else { throw BenchFailure("over-limit key: \(limited.outcome)") }
        let durableDecision: Decision = try durable.authorize(key: durableKey)
        guard durableDecision.isAllowed else { throw BenchFailure("durable authorize: \(durableDecision.outcome)") }
        try floor.decide()
        try floor.decideHashing(periodicKey)
    }

    // MARK: The workloads

    public func authorizePeriodic() throws {
        let decision: Decision = try periodic.authorize(key: periodicKey)
        if !decision.isAllowed { throw BenchFailure("authorize: \(decision.outcome)") }
    }

    public func authorizeRarelySynced() throws {
        let decision: Decision = try rarelySynced.authorize(key: rarelySyncedKey)
        if !decision.isAllowed { throw BenchFailure("authorize: \(decision.outcome)") }
    }

    public func authorizePeriodicAsync() async throws {
        let decision = try await periodic.authorize(key: periodicKey)
        if !decision.isAllowed { throw BenchFailure("authorize: \(decision.outcome)") }
    }

    public func peek() throws {
        let decision = try periodic.peek(key: periodicKey)
        if !decision.isAllowed { throw BenchFailure("peek: \(decision.outcome)") }
    }

    public func rejectMalformed() throws {
        let decision: Decision = try periodic.authorize(key: malformedKey)
        if decision.outcome != .malformedKey { throw BenchFailure("malformed: \(decision.outcome)") }
    }

    public func rejectOverLimit() throws {
        let decision: Decision = try periodic.authorize(key: limitedKey)
        if decision.outcome != .rateLimited { throw BenchFailure("over limit: \(decision.outcome)") }
    }

    public func authorizeDurable() throws {
        let decision: Decision = try durable.authorize(key: durableKey)
        if !decision.isAllowed { throw BenchFailure("durable: \(decision.outcome)") }
    }

    /// `callers` concurrent tasks, each deciding `perCaller` times in sequence (async API, group
    /// commit). Returns every decision's latency and the wall time.
    public func groupCommit(callers: Int, perCaller: Int) async throws -> (samples: [UInt64], seconds: Double) {
        let store = durable
        let key = durableKey
        let start = nowNanoseconds()
        let samples = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var samples: [UInt64] = []
                    samples.reserveCapacity(perCaller)
                    for _ in 0..<perCaller {
                        let before = nowNanoseconds()
                        let decision = try await store.authorize(key: key)
                        samples.append(nowNanoseconds() - before)
                        if !decision.isAllowed { throw BenchFailure("group commit: \(decision.outcome)") }
                    }
                    return samples
                }
            }
            var all: [UInt64] = []
            for try await part in group { all += part }
            return all
        }
        return (samples, Double(nowNanoseconds() - start) / 1e9)
    }
}

/// The floor: the same work as one allowed decision — one key lookup and two counter
/// read-modify-writes in one write transaction — directly on TollgateLMDB with the periodic
/// store's flags (`MDB_NOSYNC`), records of the same sizes as Tollgate's (the key record as
/// stored, 26-byte counters), and no decoding, limiter arithmetic, usage ledger or hashing.
public final class LMDBFloor: Sendable {
    let environment: Environment
    let keys: Table
    let counters: Table
    let keyHash: [UInt8]
    let counterKeys: [[UInt8]]

    public let keyRecordBytes: Int

    /// `presentedKey`: the key whose hash the floor's key record is stored under.
    init(path: String, presentedKey: String, keyRecordBytes: Int) throws {
        self.keyRecordBytes = keyRecordBytes
        var options = Environment.Options(path: path)
        options.durability = .noSync
        environment = try Environment(options: options)
        keys = try environment.table(named: "keys")!
        counters = try environment.table(named: "counters")!
        let hash = Array(SHA256.hash(data: Array(presentedKey.utf8)))
        keyHash = hash
        // As Tollgate's counter keys: kind · key id · 0 · limit name.
        counterKeys = ["second", "day"].map { Array("\u{1}key_0123456789abcdef\u{0}\($0)".utf8) }
        let keyTable = keys
        try environment.write { txn in
            try txn.put([UInt8](repeating: 1, count: max(keyRecordBytes, 1)), forKey: hash, in: keyTable)
        }
    }

    func close() { environment.close() }

    /// One decision's storage work, given the key's hash. Written to allocate nothing of its own:
    /// the counter's value is read and written in place through raw buffers.
    public func decide(hash: [UInt8]) throws {
        try environment.write { txn in
            guard try txn.withValue(in: keys, forKey: hash, { $0.count }) != nil else { throw BenchFailure("floor: no key") }
            for counterKey in counterKeys {
                try counterKey.withUnsafeBytes { key in
                    let count = try txn.withValue(in: counters, forKey: key) { value -> UInt64 in
                        value.count == 26 ? UInt64(bigEndian: value.loadUnaligned(fromByteOffset: 18, as: UInt64.self)) : 0
                    } ?? 0
                    try withUnsafeTemporaryAllocation(byteCount: 26, alignment: 8) { buffer in
                        buffer.initializeMemory(as: UInt8.self, repeating: 0)
                        buffer.storeBytes(of: (count + 1).bigEndian, toByteOffset: 18, as: UInt64.self)
                        try txn.put(UnsafeRawBufferPointer(buffer), forKey: key, in: counters)
                    }
                }
            }
        }
    }

    public func decide() throws { try decide(hash: keyHash) }

    /// An empty write transaction (begin + commit): LMDB's own fixed cost.
    public func emptyWrite() throws { try environment.write { _ in } }

    /// Only the key lookup, in a write transaction.
    public func lookupOnly() throws {
        try environment.write { txn in
            guard try txn.withValue(in: keys, forKey: keyHash, { $0.count }) != nil else { throw BenchFailure("floor: no key") }
        }
    }

    /// The floor plus the SHA-256 of the presented key (Tollgate stores keys only as hashes, so a
    /// decision cannot skip it): a second, stricter floor.
    public func decideHashing(_ presented: String) throws {
        try decide(hash: Array(SHA256.hash(data: Array(presented.utf8))))
    }
}
