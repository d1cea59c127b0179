internal import CTollgateLMDB

/// A named table (an LMDB sub-database), opened once by ``Environment/table(named:create:)``.
/// A plain value: copy it freely, use it in any transaction of its environment.
public struct Table: Sendable, Hashable {
    let id: UInt32
    public let name: String
}

/// Page statistics of a table or environment (`MDB_stat`).
public struct TableStatistics: Sendable, Hashable {
    public var pageSize: Int
    public var depth: Int
    public var branchPages: Int
    public var leafPages: Int
    public var overflowPages: Int
    public var entries: Int

    init(_ stat: MDB_stat) {
        pageSize = Int(stat.ms_psize)
        depth = Int(stat.ms_depth)
        branchPages = Int(stat.ms_branch_pages)
        leafPages = Int(stat.ms_leaf_pages)
        overflowPages = Int(stat.ms_overflow_pages)
        entries = Int(stat.ms_entries)
    }

    /// Pages this table occupies.
    public var pages: Int { branchPages + leafPages + overflowPages }
}

/// A position in a table, valid only inside the transaction closure that made it.
///
/// Entries it returns borrow the map's memory: valid until the cursor moves or the transaction ends.
public struct Cursor: ~Copyable {
    let handle: OpaquePointer

    init(transaction: OpaquePointer, table: Table) throws(LMDBError) {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(transaction, table.id, &cursor), "open cursor on \(table.name)")
        guard let cursor else { throw LMDBError.badTransaction }
        handle = cursor
    }

    deinit { mdb_cursor_close(handle) }

    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    /// The first entry, or `nil` when the table is empty.
    public mutating func first() throws(LMDBError) -> Entry? { try move(MDB_FIRST) }
    /// The last entry, or `nil` when the table is empty.
    public mutating func last() throws(LMDBError) -> Entry? { try move(MDB_LAST) }
    /// The next entry, or `nil` past the end.
    public mutating func next() throws(LMDBError) -> Entry? { try move(MDB_NEXT) }
    /// The previous entry, or `nil` before the start.
    public mutating func previous() throws(LMDBError) -> Entry? { try move(MDB_PREV) }
    /// The entry under the cursor.
    public mutating func current() throws(LMDBError) -> Entry? { try move(MDB_GET_CURRENT) }

    /// The first entry whose key is ≥ `key`.
    public mutating func seek(atLeast key: [UInt8]) throws(LMDBError) -> Entry? {
        // Every key is ≥ the empty key, but LMDB rejects an empty key (MDB_BAD_VALSIZE).
        if key.isEmpty { return try first() }
        var entry: Entry?
        var failure: LMDBError?
        key.withUnsafeBytes { raw in
            var mdbKey = MDB_val(mv_size: raw.count, mv_data: UnsafeMutableRawPointer(mutating: raw.baseAddress))
            var data = MDB_val()
            let rc = mdb_cursor_get(handle, &mdbKey, &data, MDB_SET_RANGE)
            if rc == MDB_SUCCESS {
                entry = (UnsafeRawBufferPointer(start: mdbKey.mv_data, count: mdbKey.mv_size),
                         UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size))
            } else if rc != MDB_NOTFOUND {
                failure = LMDBError(code: rc, context: "cursor seek")
            }
        }
        if let failure { throw failure }
        return entry
    }

    private mutating func move(_ op: MDB_cursor_op) throws(LMDBError) -> Entry? {
        var key = MDB_val()
        var data = MDB_val()
        let rc = mdb_cursor_get(handle, &key, &data, op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "cursor move")
        return (UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size),
                UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size))
    }
}
