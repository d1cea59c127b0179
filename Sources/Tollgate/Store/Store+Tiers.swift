import TollgateLMDB

extension Store {
    /// Creates or replaces the tier `tier.name`. Keys on it see the new limits from their next
    /// request on; counters of limits that keep their name carry over.
    public func setTier(_ tier: Tier, actor: String? = nil) throws(TollgateError) {
        try Validation.tier(tier)
        let now = clock.now()
        try write("set tier \(tier.name)") { txn in
            let existed = try txn.contains(Array(tier.name.utf8), in: tables.tiers)
            try putTier(txn, tier, existed: existed, actor: actor, at: now)
        }
    }

    /// What ``applyTiers(_:dryRun:actor:)`` does to one tier.
    public enum TierChange: Sendable, Hashable {
        /// A new tier.
        case create(Tier)
        /// An existing tier gets other limits.
        case replace(old: Tier, new: Tier)
        /// The stored tier equals the new one: nothing is written.
        case unchanged(Tier)
    }

    /// Creates or replaces every tier of `tiers` (a ``PolicyFile``'s) in **one** write
    /// transaction: all of them or, on any error, none. A tier equal to the stored one is left
    /// alone (no audit event). Tiers of the store that are not in `tiers` are kept. With `dryRun`,
    /// nothing is written (a read-only store will do) and the changes are only reported.
    /// Refuses invalid tiers and a name given twice with ``TollgateError/Code/invalidArgument``.
    @discardableResult
    public func applyTiers(_ tiers: [Tier], dryRun: Bool = false, actor: String? = nil) throws(TollgateError) -> [TierChange] {
        var names = Set<String>()
        for tier in tiers {
            try Validation.tier(tier)
            guard names.insert(tier.name).inserted else { throw TollgateError(.invalidArgument, "tier \(tier.name) is given twice") }
        }
        func changes(_ txn: borrowing some ReadableTransaction & ~Copyable) throws -> [TierChange] {
            try tiers.map { tier throws -> TierChange in
                guard let old = try txn.withValue(in: tables.tiers, forKey: Array(tier.name.utf8), { try Tier.decode($0) }) else { return .create(tier) }
                return old == tier ? .unchanged(tier) : .replace(old: old, new: tier)
            }
        }
        if dryRun { return try read("plan tier changes") { txn in try changes(txn) } }
        let now = clock.now()
        return try write("apply \(tiers.count) tier(s)") { txn in
            let planned = try changes(txn)
            for change in planned {
                switch change {
                case .create(let tier): try putTier(txn, tier, existed: false, actor: actor, at: now)
                case .replace(_, let tier): try putTier(txn, tier, existed: true, actor: actor, at: now)
                case .unchanged: break
                }
            }
            return planned
        }
    }

    private func putTier(_ txn: borrowing WriteTransaction, _ tier: Tier, existed: Bool, actor: String?, at now: Timestamp) throws {
        try txn.put(tier.encoded(), forKey: Array(tier.name.utf8), in: tables.tiers)
        try bumpPolicyGeneration(txn)
        let summary = tier.limits.map(\.spec).joined(separator: ", ")
        try audit(txn, .tierSet, actor: actor, subject: tier.name, detail: (existed ? "replaced: " : "created: ") + summary, at: now)
    }

    /// The tier named `name`, or `nil`.
    public func tier(named name: String) throws(TollgateError) -> Tier? {
        try read("read tier \(name)") { txn in try loadTier(txn, name) }
    }

    /// Every tier, by name.
    public func tiers() throws(TollgateError) -> [Tier] {
        try read("list tiers") { txn in
            var tiers: [Tier] = []
            try txn.forEach(in: tables.tiers) { _, value in
                tiers.append(try Tier.decode(value))
                return .continue
            }
            return tiers
        }
    }

    /// Removes a tier. Refused with ``TollgateError/Code/tierInUse`` while keys use it, unless
    /// `replacement` names a tier to move those keys to.
    ///
    /// Keys move in bounded batches, as ``sweep(at:batchSize:maxBatches:)`` deletes: one short
    /// write transaction per 1,000 keys (each with its keys' audit events), never one that holds
    /// the cross-process write lock for the whole tier. Keys already moved stay moved if a later
    /// batch fails; the tier itself goes in a last transaction, once no key uses it.
    public func removeTier(named name: String, movingKeysTo replacement: String? = nil, actor: String? = nil) throws(TollgateError) {
        try removeTier(named: name, movingKeysTo: replacement, actor: actor, batchSize: 1_000)
    }

    /// ``removeTier(named:movingKeysTo:actor:)`` moving at most `batchSize` keys per transaction.
    func removeTier(named name: String, movingKeysTo replacement: String?, actor: String?, batchSize: Int) throws(TollgateError) {
        let now = clock.now()
        let batchSize = max(1, batchSize)
        typealias User = (hash: [UInt8], key: KeyInfo, lastRefill: Int64)

        func checkTiers(_ txn: borrowing WriteTransaction) throws {
            guard try txn.contains(Array(name.utf8), in: tables.tiers) else {
                throw TollgateError(.notFound, "no tier named \(name)")
            }
            if let replacement {
                guard replacement != name, try txn.contains(Array(replacement.utf8), in: tables.tiers) else {
                    throw TollgateError(.notFound, "no replacement tier named \(replacement)")
                }
            }
        }
        func user(_ hash: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> User? {
            if case .primary(let key, let lastRefill) = try StoredKey.decode(value), key.tier == name { return (Array(hash), key, lastRefill) }
            return nil
        }
        func move(_ txn: borrowing WriteTransaction, _ users: [User], to replacement: String) throws {
            for var user in users {
                user.key.tier = replacement
                try txn.put(StoredKey.primary(user.key, lastRefillPeriod: user.lastRefill).encoded(), forKey: user.hash, in: tables.keys)
                try audit(txn, .keyTierChanged, actor: actor, subject: user.key.id, detail: "tier \(name) → \(replacement) (tier removed)", at: now)
            }
        }

        var moved = 0
        while true {
            // Batches: each scans at most 8 × batchSize records (as sweep does) and moves at most
            // batchSize keys, resuming where the last one stopped.
            if let replacement {
                var resumeAt: [UInt8]? = nil
                repeat {
                    let (batch, next) = try write("remove tier \(name): move keys") { txn -> (Int, [UInt8]?) in
                        try checkTiers(txn)
                        var users: [User] = []
                        var next: [UInt8]? = nil
                        try txn.withCursor(over: tables.keys) { cursor in
                            var entry = try resumeAt.map { try cursor.seek(atLeast: $0) } ?? cursor.first()
                            var visited = 0
                            while let current = entry {
                                if users.count >= batchSize || visited >= batchSize * 8 {
                                    next = Array(current.key)
                                    return
                                }
                                visited += 1
                                if let found = try user(current.key, current.value) { users.append(found) }
                                entry = try cursor.next()
                            }
                        }
                        try move(txn, users, to: replacement)
                        return (users.count, next)
                    }
                    moved += batch
                    resumeAt = next
                } while resumeAt != nil
            }
            // The last transaction: a full scan that only reads, then the removal. Keys created
            // on the tier while the batches ran are moved here if they are few, or by another round.
            let removed = try write("remove tier \(name)") { txn -> Bool in
                try checkTiers(txn)
                var users: [User] = []
                try txn.forEach(in: tables.keys) { hash, value in
                    if let found = try user(hash, value) { users.append(found) }
                    return .continue
                }
                if !users.isEmpty {
                    guard let replacement else {
                        throw TollgateError(.tierInUse, "tier \(name) is used by \(users.count) key(s); name a replacement tier to move them to")
                    }
                    guard users.count <= batchSize else { return false }
                    try move(txn, users, to: replacement)
                }
                let total = moved + users.count
                try txn.delete(Array(name.utf8), in: tables.tiers)
                try bumpPolicyGeneration(txn)
                try audit(txn, .tierRemoved, actor: actor, subject: name, detail: total == 0 ? "removed" : "removed; \(total) key(s) moved to \(replacement ?? "")", at: now)
                return true
            }
            if removed { return }
        }
    }

    func loadTier(_ txn: borrowing some ReadableTransaction & ~Copyable, _ name: String) throws -> Tier? {
        try txn.withValue(in: tables.tiers, forKey: Array(name.utf8)) { bytes in
            try decodedTiers.value(for: name, bytes: bytes) { try Tier.decode($0) }
        }
    }

    private func bumpPolicyGeneration(_ txn: borrowing WriteTransaction) throws {
        guard var meta = try Self.readMeta(txn, tables) else { return }
        meta.policyGeneration &+= 1
        try txn.put(meta.encoded(), forKey: Self.metaKey, in: tables.meta)
    }
}

// MARK: - Convenience limits

extension Limit {
    /// `quantity` per second, fixed window, per key.
    public static func perSecond(_ quantity: UInt64, name: String = "second", strategy: Strategy = .fixedWindow, subject: LimitSubject = .key) -> Limit {
        Limit(name: name, strategy: strategy, quantity: quantity, windowMicroseconds: 1_000_000, subject: subject)
    }

    /// `quantity` per minute, fixed window, per key.
    public static func perMinute(_ quantity: UInt64, name: String = "minute", strategy: Strategy = .fixedWindow, subject: LimitSubject = .key) -> Limit {
        Limit(name: name, strategy: strategy, quantity: quantity, windowMicroseconds: 60_000_000, subject: subject)
    }

    /// `quantity` per hour, fixed window, per key.
    public static func perHour(_ quantity: UInt64, name: String = "hour", strategy: Strategy = .fixedWindow, subject: LimitSubject = .key) -> Limit {
        Limit(name: name, strategy: strategy, quantity: quantity, windowMicroseconds: 3_600_000_000, subject: subject)
    }

    /// `quantity` per UTC calendar day, per key.
    public static func perDay(_ quantity: UInt64, name: String = "day", subject: LimitSubject = .key) -> Limit {
        Limit(name: name, strategy: .calendarDay, quantity: quantity, windowMicroseconds: 86_400_000_000, subject: subject)
    }

    /// `quantity` per UTC calendar month, per key.
    public static func perMonth(_ quantity: UInt64, name: String = "month", subject: LimitSubject = .key) -> Limit {
        Limit(name: name, strategy: .calendarMonth, quantity: quantity, windowMicroseconds: 30 * 86_400_000_000, subject: subject)
    }
}
