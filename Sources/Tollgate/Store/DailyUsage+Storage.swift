import TollgateLMDB

/// The usage ledger in its LMDB table: one record per key and day.
extension DailyUsage {
    /// The stored record of `keyID` for `day`, or an empty one; throws when it is damaged.
    static func load<T: ReadableTransaction & ~Copyable>(_ txn: borrowing T, _ table: Table, keyID: String, day: Int64) throws -> DailyUsage {
        try txn.withValue(in: table, forKey: tableKey(keyID: keyID, day: day)) { try decode($0, day: day) }
            ?? DailyUsage(day: day, allowed: 0, denied: 0, consumed: 0)
    }

    static func update(_ txn: borrowing WriteTransaction, _ table: Table, keyID: String, day: Int64, _ change: (inout DailyUsage) -> Void) throws {
        var usage = try load(txn, table, keyID: keyID, day: day)
        change(&usage)
        try txn.put(usage.encoded(), forKey: tableKey(keyID: keyID, day: day), in: table)
    }
}
