import TollgateLMDB

/// The LMDB side of the decision seam: reads through one transaction (with the store's
/// decoded-record caches), maps logical counters to `counters` table keys, turns a counter's
/// `resetAfter` into its `staleAt` (what the sweeper reads), and prepares the puts.
///
/// Made inside a transaction's closure and dropped before it ends (it holds the transaction's
/// handle, see ``TransactionReads``).
struct LMDBDecisionStorage: DecisionStorage {
    let txn: TransactionReads
    let store: Store

    init(_ txn: borrowing some ReadableTransaction & ~Copyable, _ store: Store) {
        self.txn = TransactionReads(txn)
        self.store = store
    }

    /// An allowed decision's puts: final records, nothing left to read or decode, so applying
    /// them can fail only in LMDB — which dooms the whole transaction, never half of one request
    /// of a group-commit batch whose other requests commit.
    struct Writes {
        /// Encoded at ``Store/apply(_:_:)``: `StoredCounter` is plain integers, so encoding
        /// cannot fail, and no second array of records is built per decision.
        var counters: [DecisionCore.CounterEffect]
        var addresses: [[UInt8]]
        var now: Timestamp
        var key: (hash: [UInt8], record: StoredKey)?
        var usage: (tableKey: [UInt8], record: DailyUsage)?
    }

    func key(hash: KeyHash) throws -> StoredKey? {
        try txn.withValue(in: store.tables.keys, forKey: hash.bytes) { bytes in
            try store.decodedKeys.value(for: hash, bytes: bytes) { try StoredKey.decode($0) }
        }
    }

    func key(id: String) throws -> (hash: KeyHash, key: KeyInfo, credits: DecisionCore.Credits)? {
        guard let (hash, key, lastRefill) = try store.loadKey(txn, id: id) else { return nil }
        return (KeyHash(hash), key, DecisionCore.Credits(balance: key.credits, lastRefillPeriod: lastRefill))
    }

    func tier(named name: String) throws -> Tier? { try store.loadTier(txn, name) }

    func address(of counter: CounterID) -> [UInt8] { counter.tableKey }

    func counter(at address: [UInt8], for limit: Limit) throws -> CounterState? {
        try txn.withValue(in: store.tables.counters, forKey: address) { bytes in
            let stored = try StoredCounter.decode(bytes)
            return limit.reading(stored.state, staleAt: stored.staleAt)
        }
    }

    func writes(of effects: DecisionCore.Effects, addresses: [[UInt8]], keyHash: KeyHash, key: KeyInfo, at now: Timestamp) throws -> Writes {
        var writes = try writes(ofCounters: effects.counters, addresses: addresses, at: now)
        let day = effects.key.usageDay
        var usage = try DailyUsage.load(txn, store.tables.usage, keyID: key.id, day: day)
        usage.allowed &+= 1
        usage.consumed = usage.consumed.addingReportingOverflow(effects.key.cost).overflow ? .max : usage.consumed + effects.key.cost
        writes.usage = (DailyUsage.tableKey(keyID: key.id, day: day), usage)
        // Credits live in the key record (format 1): it is written when they or the coarse
        // last-use time changed.
        if effects.key.creditsChanged || effects.key.lastUsedAt != nil {
            var record = key
            record.credits = effects.key.credits.balance
            if let lastUsedAt = effects.key.lastUsedAt { record.lastUsedAt = lastUsedAt }
            writes.key = (keyHash.bytes, StoredKey.primary(record, lastRefillPeriod: effects.key.credits.lastRefillPeriod))
        }
        return writes
    }

    func writes(ofCounters effects: [DecisionCore.CounterEffect], addresses: [[UInt8]], at now: Timestamp) throws -> Writes {
        Writes(counters: effects, addresses: addresses, now: now, key: nil, usage: nil)
    }
}

extension Store {
    /// Writes an allowed decision's effects into `txn`: puts only, so it can fail only with an
    /// LMDB error, which dooms the whole transaction.
    func apply(_ writes: LMDBDecisionStorage.Writes, _ txn: borrowing WriteTransaction) throws(LMDBError) {
        for effect in writes.counters {
            let counter = StoredCounter(state: effect.state, staleAt: writes.now.adding(microseconds: effect.resetAfter))
            try txn.put(counter.encoded(), forKey: writes.addresses[effect.reading], in: tables.counters)
        }
        if let (hash, record) = writes.key {
            try txn.put(record.encoded(), forKey: hash, in: tables.keys)
        }
        if let (tableKey, record) = writes.usage {
            try txn.put(record.encoded(), forKey: tableKey, in: tables.usage)
        }
    }
}
