import TollgateLMDB

/// What to issue a key with.
public struct NewKey: Sendable, Hashable {
    public var owner: String
    public var tier: String
    public var name: String = ""
    /// Scopes the key grants (`reports:read`, `reports:*`, `*`). Empty: the key passes only
    /// requests that name no scope.
    public var scopes: [String] = []
    public var expiresAt: Timestamp?
    /// Credits the key starts with; `nil`: not metered by credits.
    public var credits: UInt64?
    public var refill: CreditRefill?
    public var limitOverrides: [Limit] = []
    public var metadata: [String: String] = [:]

    public init(owner: String, tier: String, name: String = "", scopes: [String] = [], expiresAt: Timestamp? = nil,
                credits: UInt64? = nil, refill: CreditRefill? = nil, limitOverrides: [Limit] = [], metadata: [String: String] = [:]) {
        self.owner = owner
        self.tier = tier
        self.name = name
        self.scopes = scopes
        self.expiresAt = expiresAt
        self.credits = credits
        self.refill = refill
        self.limitOverrides = limitOverrides
        self.metadata = metadata
    }
}

/// A key just issued: the only time its secret exists outside the caller's hands.
public struct IssuedKey: Sendable {
    /// The key to hand to the client. Tollgate keeps only its hash: show it once, then drop it.
    public let secret: String
    public let info: KeyInfo
}

extension IssuedKey: CustomStringConvertible, CustomDebugStringConvertible {
    /// Never prints the secret, so an issued key that lands in a log leaks nothing.
    public var description: String { "IssuedKey(\(info.id), \(info.displayPrefix))" }
    public var debugDescription: String { description }
}

extension Store {
    // MARK: Creating

    /// Issues a new key under `request.tier` and returns its secret — once.
    public func createKey(_ request: NewKey, actor: String? = nil) throws(TollgateError) -> IssuedKey {
        try validate(request)
        let now = clock.now()
        // A new key that is expired at birth is a mistake (a date in the past, or a duration
        // that ran off the end of the timeline before saturating), never an intent. Imports may
        // carry a past expiry: they copy keys as they are.
        if let expiresAt = request.expiresAt, expiresAt <= now {
            throw TollgateError(.invalidArgument, "the expiry \(expiresAt.iso8601) is not in the future")
        }
        let secret = keyFormat.generate()
        let hash = hasher.hash(secret)
        var key = KeyInfo(
            id: KeyID.generate(), displayPrefix: keyFormat.displayPrefix(of: secret), owner: request.owner, name: request.name,
            tier: request.tier, scopes: request.scopes, state: .active, createdAt: now, expiresAt: request.expiresAt,
            revokedAt: nil, credits: request.credits, refill: request.refill, limitOverrides: request.limitOverrides,
            metadata: request.metadata, lastUsedAt: nil, previousKeyGraceUntil: nil)
        let lastRefill = request.refill.map { CalendarPeriod.index(of: now, period: $0.period) } ?? 0
        if let refill = request.refill, request.credits == nil { key.credits = refill.amount }
        try insert(key, hash: hash.bytes, lastRefill: lastRefill, .keyCreated, actor: actor, at: now)
        return IssuedKey(secret: secret, info: key)
    }

    /// Imports a key issued elsewhere, by its hash (migration). `hash` is the 32-byte digest under
    /// this store's scheme: SHA-256 of the key, or HMAC-SHA-256 with the store's pepper.
    /// The key itself must also have this store's format to pass verification.
    public func importKey(hash: [UInt8], displayPrefix: String, _ request: NewKey, createdAt: Timestamp? = nil, actor: String? = nil) throws(TollgateError) -> KeyInfo {
        try validate(request)
        guard hash.count == 32 else { throw TollgateError(.invalidArgument, "a key hash has 32 bytes") }
        try Validation.text(displayPrefix, "a display prefix", max: KeyFormat.maximumKeyLength + 8)
        let now = clock.now()
        let key = KeyInfo(
            id: KeyID.generate(), displayPrefix: displayPrefix, owner: request.owner, name: request.name,
            tier: request.tier, scopes: request.scopes, state: .active, createdAt: createdAt ?? now, expiresAt: request.expiresAt,
            revokedAt: nil, credits: request.credits ?? request.refill?.amount, refill: request.refill, limitOverrides: request.limitOverrides,
            metadata: request.metadata, lastUsedAt: nil, previousKeyGraceUntil: nil)
        let lastRefill = request.refill.map { CalendarPeriod.index(of: now, period: $0.period) } ?? 0
        try insert(key, hash: hash, lastRefill: lastRefill, .keyImported, actor: actor, at: now)
        return key
    }

    /// Writes a new key's record and indexes, with its audit event.
    private func insert(_ key: KeyInfo, hash: [UInt8], lastRefill: Int64, _ kind: AuditEvent.Kind, actor: String?, at now: Timestamp) throws(TollgateError) {
        try write("store a new key") { txn in
            guard try loadTier(txn, key.tier) != nil else { throw TollgateError(.notFound, "no tier named \(key.tier)") }
            guard try !txn.contains(hash, in: tables.keys) else { throw TollgateError(.alreadyExists, "a key with this hash exists already") }
            try txn.put(StoredKey.primary(key, lastRefillPeriod: lastRefill).encoded(), forKey: hash, in: tables.keys)
            try txn.put(hash, forKey: Array(key.id.utf8), in: tables.keyIDs, mode: .noOverwrite)
            try txn.put([], forKey: ownerIndexKey(owner: key.owner, id: key.id), in: tables.owners)
            try audit(txn, kind, actor: actor, subject: key.id, detail: "owner \(key.owner), tier \(key.tier), \(key.displayPrefix)", at: now)
        }
    }

    private func validate(_ request: NewKey) throws(TollgateError) {
        try Validation.text(request.owner, "an owner", max: Bounds.owner)
        try Validation.name(request.tier, "a tier name")
        try Validation.text(request.name, "a key name", max: Bounds.keyName, allowEmpty: true)
        guard request.scopes.count <= Bounds.scopes else { throw TollgateError(.invalidArgument, "a key has at most \(Bounds.scopes) scopes") }
        for scope in request.scopes { try Validation.text(scope, "a scope", max: Bounds.scope) }
        try Validation.limits(request.limitOverrides, "a key's limit overrides")
        guard request.metadata.count <= Bounds.metadataEntries else { throw TollgateError(.invalidArgument, "a key has at most \(Bounds.metadataEntries) metadata entries") }
        for (key, value) in request.metadata {
            try Validation.text(key, "a metadata key", max: Bounds.metadataKey)
            try Validation.text(value, "a metadata value", max: Bounds.metadataValue, allowEmpty: true)
        }
    }

    // MARK: Reading

    /// The key with this id, or `nil`.
    public func key(id: String) throws(TollgateError) -> KeyInfo? {
        guard KeyID.isValid(id) else { return nil }
        return try read("read key \(id)") { txn in try loadKey(txn, id: id)?.key }
    }

    /// The keys of `owner`, by id.
    public func keys(owner: String) throws(TollgateError) -> [KeyInfo] {
        try read("list keys of an owner") { txn in
            var prefix = Array(owner.utf8)
            prefix.append(0)
            var end = prefix
            end[end.count - 1] = 1
            var keys: [KeyInfo] = []
            try txn.forEach(in: tables.owners, from: prefix, to: end) { indexKey, _ in
                let id = String(decoding: indexKey[prefix.count...], as: UTF8.self)
                if let key = try loadKey(txn, id: id)?.key { keys.append(key) }
                return .continue
            }
            return keys
        }
    }

    /// Every key, by id; at most `limit` starting after `afterID` (for paging).
    public func allKeys(after afterID: String? = nil, limit: Int = .max) throws(TollgateError) -> [KeyInfo] {
        try read("list keys") { txn in
            var keys: [KeyInfo] = []
            try txn.forEach(in: tables.keyIDs, from: afterID.map { Array($0.utf8) + [0] }) { _, hash in
                guard keys.count < limit else { return .stop }
                if case .primary(let key, _) = try txn.withValue(in: tables.keys, forKey: hash, { try StoredKey.decode($0) }) {
                    keys.append(key)
                }
                return .continue
            }
            return keys
        }
    }

    /// The usage ledger of a key: one entry per UTC day it was used, oldest first, for the last
    /// `days` days up to `now`.
    public func usage(keyID: String, days: Int = 30, now: Timestamp? = nil) throws(TollgateError) -> [DailyUsage] {
        let today = self.now(now).daysSinceEpoch
        let first = today - Int64(max(days, 1)) + 1
        return try read("read usage of \(keyID)") { txn in
            var result: [DailyUsage] = []
            try txn.forEach(in: tables.usage, from: DailyUsage.tableKey(keyID: keyID, day: first), to: DailyUsage.tableKey(keyID: keyID, day: today + 1)) { key, value in
                let day = Int64(UInt32(bigEndianBytes: key.suffix(4)) ?? 0)
                result.append(try DailyUsage.decode(value, day: day))
                return .continue
            }
            return result
        }
    }

    /// Audit events, oldest first, from `since` on; at most `limit`.
    public func auditEvents(since: Timestamp? = nil, limit: Int = .max) throws(TollgateError) -> [AuditEvent] {
        try read("read the audit log") { txn in
            var events: [AuditEvent] = []
            try txn.forEach(in: tables.audit, from: since.map { $0.microseconds.bigEndianBytes }) { _, value in
                guard events.count < limit else { return .stop }
                events.append(try AuditEvent.decode(value))
                return .continue
            }
            return events
        }
    }

    func loadKey(_ txn: borrowing some ReadableTransaction & ~Copyable, id: String) throws -> (hash: [UInt8], key: KeyInfo, lastRefill: Int64)? {
        guard let hash = try txn.value(in: tables.keyIDs, forKey: Array(id.utf8)) else { return nil }
        guard let stored = try txn.withValue(in: tables.keys, forKey: hash, { try StoredKey.decode($0) }),
              case .primary(let key, let lastRefill) = stored
        else {
            throw TollgateError(.corruptRecord, "key id \(id) points to no key record")
        }
        return (hash, key, lastRefill)
    }

    func ownerIndexKey(owner: String, id: String) -> [UInt8] {
        var bytes = Array(owner.utf8)
        bytes.append(0)
        bytes.append(contentsOf: id.utf8)
        return bytes
    }

    // MARK: Changing

    /// Refuses the key from now on, for good.
    public func revokeKey(id: String, actor: String? = nil) throws(TollgateError) {
        let now = clock.now()
        try updateKey(id: id, "revoke", actor: actor) { txn, key in
            guard key.state != .revoked else { return nil }
            key.state = .revoked
            key.revokedAt = now
            return (.keyRevoked, "revoked")
        }
    }

    /// Refuses the key until ``enableKey(id:actor:)``.
    public func disableKey(id: String, actor: String? = nil) throws(TollgateError) {
        try updateKey(id: id, "disable", actor: actor) { _, key in
            guard key.state != .revoked else { throw TollgateError(.invalidArgument, "key \(id) is revoked") }
            guard key.state != .disabled else { return nil }
            key.state = .disabled
            return (.keyDisabled, "disabled")
        }
    }

    /// Accepts a disabled key again. A revoked key stays revoked.
    public func enableKey(id: String, actor: String? = nil) throws(TollgateError) {
        try updateKey(id: id, "enable", actor: actor) { _, key in
            guard key.state != .revoked else { throw TollgateError(.invalidArgument, "key \(id) is revoked and cannot be enabled") }
            guard key.state != .active else { return nil }
            key.state = .active
            return (.keyEnabled, "enabled")
        }
    }

    /// Moves the key to another tier. Its counters of limits with the same name carry over.
    public func setTier(ofKey id: String, to tier: String, actor: String? = nil) throws(TollgateError) {
        try updateKey(id: id, "change the tier of", actor: actor) { txn, key in
            guard try loadTier(txn, tier) != nil else { throw TollgateError(.notFound, "no tier named \(tier)") }
            guard key.tier != tier else { return nil }
            defer { key.tier = tier }
            return (.keyTierChanged, "tier \(key.tier) → \(tier)")
        }
    }

    /// Adds credits to a key (a key without credits starts metering at `amount`).
    public func addCredits(_ amount: UInt64, toKey id: String, actor: String? = nil) throws(TollgateError) {
        try updateKey(id: id, "add credits to", actor: actor, applyingDueRefill: true) { _, key in
            key.credits = (key.credits ?? 0).addingReportingOverflow(amount).overflow ? .max : (key.credits ?? 0) + amount
            return (.keyCreditsAdded, "+\(amount) → \(key.credits ?? 0)")
        }
    }

    /// Replaces the key's per-key limits (same name: replaces the tier's; new name: adds).
    public func setLimitOverrides(_ overrides: [Limit], forKey id: String, actor: String? = nil) throws(TollgateError) {
        try Validation.limits(overrides, "a key's limit overrides")
        try updateKey(id: id, "set limits of", actor: actor) { _, key in
            key.limitOverrides = overrides
            return (.keyTierChanged, "overrides: " + overrides.map(\.name).joined(separator: ", "))
        }
    }

    /// Issues a new secret for the key. The key keeps its id, tier, scopes, expiry, credits,
    /// counters and usage; the old secret keeps working until `grace` has passed (zero: at once).
    public func rotateKey(id: String, grace: Duration = .zero, actor: String? = nil) throws(TollgateError) -> IssuedKey {
        guard grace >= .zero else { throw TollgateError(.invalidArgument, "a rotation grace period cannot be negative") }
        let now = clock.now()
        // Saturates: a grace beyond the end of the timeline keeps the old secret working "forever".
        let graceUntil = now.adding(grace)
        let secret = keyFormat.generate()
        let newHash = hasher.hash(secret)
        let key: KeyInfo = try write("rotate key \(id)") { txn in
            guard KeyID.isValid(id), let (oldHash, loaded, lastRefill) = try loadKey(txn, id: id) else {
                throw TollgateError(.notFound, "no key with id \(id)")
            }
            guard loaded.state != .revoked else { throw TollgateError(.invalidArgument, "key \(id) is revoked") }
            var key = loaded
            key.displayPrefix = keyFormat.displayPrefix(of: secret)
            key.previousKeyGraceUntil = graceUntil > now ? graceUntil : nil
            if graceUntil > now {
                try txn.put(StoredKey.rotated(id: id, graceUntil: graceUntil).encoded(), forKey: oldHash, in: tables.keys)
            } else {
                try txn.delete(oldHash, in: tables.keys)
            }
            try txn.put(StoredKey.primary(key, lastRefillPeriod: lastRefill).encoded(), forKey: newHash.bytes, in: tables.keys, mode: .noOverwrite)
            try txn.put(newHash.bytes, forKey: Array(id.utf8), in: tables.keyIDs)
            try audit(txn, .keyRotated, actor: actor, subject: id, detail: "\(loaded.displayPrefix) → \(key.displayPrefix), grace \(max(0, graceUntil.microseconds(since: now)) / 1_000_000)s", at: now)
            return key
        }
        return IssuedKey(secret: secret, info: key)
    }

    /// Loads a key by id, lets `change` edit it, and writes it back with an audit event.
    /// `change` returns `nil` when there is nothing to do.
    private func updateKey(
        id: String, _ verb: String, actor: String?, applyingDueRefill: Bool = false,
        _ change: (borrowing WriteTransaction, inout KeyInfo) throws -> (AuditEvent.Kind, String)?
    ) throws(TollgateError) {
        let now = clock.now()
        try write("\(verb) key \(id)") { txn in
            guard KeyID.isValid(id), let (hash, loaded, storedRefill) = try loadKey(txn, id: id) else {
                throw TollgateError(.notFound, "no key with id \(id)")
            }
            var key = loaded
            var lastRefill = storedRefill
            // Credits added to the pre-refill amount would be overwritten by a refill that is due
            // at the next request: apply that refill first.
            if applyingDueRefill { key.applyRefill(at: now, lastRefill: &lastRefill) }
            guard let (kind, detail) = try change(txn, &key) else { return }
            try txn.put(StoredKey.primary(key, lastRefillPeriod: lastRefill).encoded(), forKey: hash, in: tables.keys)
            try audit(txn, kind, actor: actor, subject: id, detail: detail, at: now)
        }
    }
}
