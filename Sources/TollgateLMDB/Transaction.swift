internal import CTollgateLMDB

/// The operations every transaction offers: reading and iterating.
///
/// Bytes handed to closures (`UnsafeRawBufferPointer`) point into LMDB's memory map: they are
/// valid only inside that closure — copy them (``value(in:forKey:)``) to keep them.
public protocol ReadableTransaction: ~Copyable {
    /// The raw `MDB_txn *`, for LMDB calls this layer does not wrap. Valid only inside the
    /// transaction's closure.
    var handle: OpaquePointer { get }
}

/// A read-only snapshot. Only exists inside ``Environment/read(_:)``.
public struct ReadTransaction: ReadableTransaction, ~Copyable {
    public let handle: OpaquePointer
    init(handle: OpaquePointer) { self.handle = handle }
}

/// A write transaction. Only exists inside ``Environment/write(_:)``, which commits or aborts it.
public struct WriteTransaction: ReadableTransaction, ~Copyable {
    public let handle: OpaquePointer
    /// Where the first failed operation leaves its code; ``Environment/write(_:)`` then refuses
    /// to commit, even if the body swallowed the error.
    private let firstError: UnsafeMutablePointer<Int32>

    init(handle: OpaquePointer, firstError: UnsafeMutablePointer<Int32>) {
        self.handle = handle
        self.firstError = firstError
    }

    fileprivate func record(_ code: Int32, _ context: @autoclosure () -> String) throws(LMDBError) {
        guard code != MDB_SUCCESS else { return }
        if firstError.pointee == 0 { firstError.pointee = code }
        throw LMDBError(code: code, context: context())
    }
}

/// A copyable view of a transaction's reads, for a value that must hold the transaction it reads
/// through (the engine's storage adapter). It is the same `MDB_txn *`, so it carries the same rule
/// as ``ReadableTransaction/handle``: it is valid only inside the closure of the transaction it was
/// made from, and must not be stored beyond it.
public struct TransactionReads: ReadableTransaction {
    public let handle: OpaquePointer
    public init(_ transaction: borrowing some ReadableTransaction & ~Copyable) { handle = transaction.handle }
}

/// `mdb_get`: the borrowed value under `key`, or `nil`. Not generic, so ``ReadableTransaction/withValue(in:forKey:_:)-(_,UnsafeRawBufferPointer,_)``
/// can be inlined into other modules without exposing the C module.
@usableFromInline
func lmdbGet(_ transaction: OpaquePointer, _ table: Table, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> UnsafeRawBufferPointer? {
    var mdbKey = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
    var data = MDB_val()
    let rc = mdb_get(transaction, table.id, &mdbKey, &data)
    if rc == MDB_NOTFOUND { return nil }
    try check(rc, "get from \(table.name)")
    return UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size)
}

/// How ``WriteTransaction/put(_:forKey:in:mode:)`` treats an existing key.
public enum PutMode: Sendable {
    /// Replace any existing value.
    case overwrite
    /// Fail with ``LMDBError/keyExists`` when the key exists (`MDB_NOOVERWRITE`).
    case noOverwrite
}

/// What a ``ReadableTransaction/forEach(in:from:to:_:)`` visitor says next.
public enum IterationStep: Sendable {
    case `continue`, stop
}

// MARK: - Reading

extension ReadableTransaction where Self: ~Copyable {
    /// Calls `body` with the value stored under `key`, or returns `nil` when there is none.
    /// The bytes are borrowed from the map: valid only inside `body`.
    // Inlinable so callers in other modules get it specialized for their result type: this sits
    // on every decision's path, and the unspecialized generic cost more than the LMDB lookup.
    @inlinable
    public func withValue<R>(
        in table: Table, forKey key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        guard let bytes = try lmdbGet(handle, table, key) else { return nil }
        return try body(bytes)
    }

    /// The value stored under `key`, copied; `nil` when there is none.
    @inlinable
    public func withValue<R>(in table: Table, forKey key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try key.withUnsafeBytes { rawKey in try withValue(in: table, forKey: rawKey, body) }
    }

    /// The value stored under `key`, copied out of the map; `nil` when there is none.
    public func value(in table: Table, forKey key: [UInt8]) throws -> [UInt8]? {
        try withValue(in: table, forKey: key) { Array($0) }
    }

    /// Whether `key` has a value.
    public func contains(_ key: [UInt8], in table: Table) throws -> Bool {
        try withValue(in: table, forKey: key) { _ in true } ?? false
    }

    /// Visits entries in key order, starting at the first key ≥ `start` (or the first key) and
    /// stopping before the first key ≥ `end` (or at the last key). The bytes are borrowed:
    /// valid only inside `visit`.
    public func forEach(
        in table: Table, from start: [UInt8]? = nil, to end: [UInt8]? = nil,
        _ visit: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> IterationStep
    ) throws {
        var cursor = try Cursor(transaction: handle, table: table)
        var entry = try start.map { try cursor.seek(atLeast: $0) } ?? cursor.first()
        while let (key, value) = entry {
            if let end, compareBytes(key, end) >= 0 { return }
            if try visit(key, value) == .stop { return }
            entry = try cursor.next()
        }
    }

    /// Entries in key order from `start` (inclusive) to `end` (exclusive), at most `limit`, copied.
    public func entries(
        in table: Table, from start: [UInt8]? = nil, to end: [UInt8]? = nil, limit: Int = .max
    ) throws -> [(key: [UInt8], value: [UInt8])] {
        var result: [(key: [UInt8], value: [UInt8])] = []
        try forEach(in: table, from: start, to: end) { key, value in
            guard result.count < limit else { return .stop }
            result.append((Array(key), Array(value)))
            return result.count < limit ? .continue : .stop
        }
        return result
    }

    /// Opens a cursor over `table`, valid only inside `body`.
    public func withCursor<R>(over table: Table, _ body: (inout Cursor) throws -> R) throws -> R {
        var cursor = try Cursor(transaction: handle, table: table)
        return try body(&cursor)
    }

    /// Page statistics of `table` (`mdb_stat`).
    public func statistics(of table: Table) throws -> TableStatistics {
        var stat = MDB_stat()
        try check(mdb_stat(handle, table.id, &stat), "stat \(table.name)")
        return TableStatistics(stat)
    }

    /// This transaction's id (`mdb_txn_id`).
    public var id: Int { Int(mdb_txn_id(handle)) }
}

// MARK: - Writing

extension WriteTransaction {
    /// Stores `value` under `key`. With ``PutMode/noOverwrite``, an existing key throws
    /// ``LMDBError/keyExists`` (which, unlike other failures, does not doom the transaction).
    public func put(_ value: UnsafeRawBufferPointer, forKey key: UnsafeRawBufferPointer, in table: Table, mode: PutMode = .overwrite) throws(LMDBError) {
        var mdbKey = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var data = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let flags: UInt32 = mode == .noOverwrite ? UInt32(MDB_NOOVERWRITE) : 0
        let rc = lmdbCall(.put, transaction: handle) { mdb_put(handle, table.id, &mdbKey, &data, flags) }
        if rc == MDB_KEYEXIST { throw LMDBError(code: rc, context: "put into \(table.name)") }
        try record(rc, "put into \(table.name)")
    }

    /// Stores `value` under `key`.
    public func put(_ value: [UInt8], forKey key: [UInt8], in table: Table, mode: PutMode = .overwrite) throws(LMDBError) {
        try withBytes(key, value) { (key, value) throws(LMDBError) in try put(value, forKey: key, in: table, mode: mode) }
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ key: UnsafeRawBufferPointer, in table: Table) throws(LMDBError) -> Bool {
        var mdbKey = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let rc = lmdbCall(.delete, transaction: handle) { mdb_del(handle, table.id, &mdbKey, nil) }
        if rc == MDB_NOTFOUND { return false }
        try record(rc, "delete from \(table.name)")
        return true
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ key: [UInt8], in table: Table) throws(LMDBError) -> Bool {
        try withBytes(key, []) { (key, _) throws(LMDBError) in try delete(key, in: table) }
    }

    /// Removes every entry of `table`, keeping the table.
    public func removeAll(in table: Table) throws(LMDBError) {
        try record(mdb_drop(handle, table.id, 0), "empty \(table.name)")
    }

    /// Removes the entry under `cursor` (for deleting while iterating).
    public func deleteCurrent(_ cursor: inout Cursor) throws(LMDBError) {
        try record(lmdbCall(.delete, transaction: handle) { mdb_cursor_del(cursor.handle, 0) }, "delete at cursor")
    }
}

/// Runs `body` with both arrays' bytes, keeping typed throws.
@inline(__always)
func withBytes<R>(_ a: [UInt8], _ b: [UInt8], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws(LMDBError) -> R) throws(LMDBError) -> R {
    let result: Result<R, LMDBError> = a.withUnsafeBytes { a in
        b.withUnsafeBytes { b in
            do throws(LMDBError) { return .success(try body(a, b)) } catch { return .failure(error) }
        }
    }
    return try result.get()
}

/// Lexicographic comparison of raw bytes: LMDB's default key order.
func compareBytes(_ lhs: UnsafeRawBufferPointer, _ rhs: [UInt8]) -> Int {
    rhs.withUnsafeBytes { rhs in
        let common = min(lhs.count, rhs.count)
        if common > 0, let l = lhs.baseAddress, let r = rhs.baseAddress {
            let order = memcmp(l, r, common)
            if order != 0 { return Int(order) }
        }
        return lhs.count - rhs.count
    }
}

#if canImport(Glibc)
import Glibc
#endif
