import TollgateLMDB

// Every stored record starts with a version byte. Decoders never trust their input: a record
// read back from disk may be damaged or hostile, so every failure is a typed error, never a trap.

// MARK: Limits and tiers

extension Limit {
    func encode(into writer: inout ByteWriter) {
        writer.string(name)
        writer.u8(strategy.rawValue)
        writer.u64(quantity)
        writer.i64(windowMicroseconds)
        writer.optional(burst) { $0.u64($1) }
        switch subject {
        case .key: writer.u8(1)
        case .owner: writer.u8(2)
        case .custom(let name):
            writer.u8(3)
            writer.string(name)
        case .global: writer.u8(4)
        }
    }

    static func decode(from reader: inout ByteReader) throws(RecordDecodingError) -> Limit {
        let name = try reader.string(maxBytes: Bounds.name)
        let rawStrategy = try reader.u8()
        guard let strategy = Strategy(rawValue: rawStrategy) else { throw reader.failure("unknown strategy \(rawStrategy)") }
        let quantity = try reader.u64()
        let window = try reader.i64()
        let burst = try reader.optional { (r: inout ByteReader) throws(RecordDecodingError) in try r.u64() }
        let subject: LimitSubject
        switch try reader.u8() {
        case 1: subject = .key
        case 2: subject = .owner
        case 3: subject = .custom(try reader.string(maxBytes: Bounds.subjectName))
        case 4: subject = .global
        case let other: throw reader.failure("unknown subject kind \(other)")
        }
        let limit = Limit(name: name, strategy: strategy, quantity: quantity, windowMicroseconds: window, burst: burst, subject: subject)
        do { try Validation.storedLimit(limit) } catch { throw reader.failure("invalid limit: \(error.message)") }
        return limit
    }
}

extension Tier {
    static let recordVersion: UInt8 = 1

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(Self.recordVersion)
        writer.string(name)
        writer.list(limits) { $1.encode(into: &$0) }
        return writer.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> Tier {
        try decodeRecord(bytes, as: "tier") { (reader: inout ByteReader) throws(RecordDecodingError) in
            _ = try reader.version(supported: 1...1)
            let name = try reader.string(maxBytes: Bounds.name)
            let limits = try reader.list(maxCount: Bounds.limits, minEntryBytes: 22) { (r: inout ByteReader) throws(RecordDecodingError) in
                try Limit.decode(from: &r)
            }
            return Tier(name: name, limits: limits)
        }
    }
}

// MARK: Keys

extension StoredKey {
    static let recordVersion: UInt8 = 1

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 160)
        writer.u8(Self.recordVersion)
        switch self {
        case .primary(let key, let lastRefill):
            writer.u8(1)
            writer.string(key.id)
            writer.string(key.displayPrefix)
            writer.string(key.owner)
            writer.string(key.name)
            writer.string(key.tier)
            writer.list(key.scopes) { $0.string($1) }
            writer.u8(key.state.rawValue)
            writer.i64(key.createdAt.microseconds)
            writer.optional(key.expiresAt) { $0.i64($1.microseconds) }
            writer.optional(key.revokedAt) { $0.i64($1.microseconds) }
            writer.optional(key.credits) { $0.u64($1) }
            writer.optional(key.refill) { writer, refill in
                writer.u64(refill.amount)
                writer.u8(refill.period.rawValue)
            }
            writer.i64(lastRefill)
            writer.list(key.limitOverrides) { $1.encode(into: &$0) }
            writer.list(key.metadata.sorted { $0.key < $1.key }) { writer, entry in
                writer.string(entry.key)
                writer.string(entry.value)
            }
            writer.optional(key.lastUsedAt) { $0.i64($1.microseconds) }
            writer.optional(key.previousKeyGraceUntil) { $0.i64($1.microseconds) }
        case .rotated(let id, let graceUntil):
            writer.u8(2)
            writer.string(id)
            writer.i64(graceUntil.microseconds)
        }
        return writer.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> StoredKey {
        try decodeRecord(bytes, as: "key") { (r: inout ByteReader) throws(RecordDecodingError) in
            _ = try r.version(supported: 1...1)
            switch try r.u8() {
            case 1:
                let id = try r.string(maxBytes: KeyID.length)
                let displayPrefix = try r.string(maxBytes: KeyFormat.maximumKeyLength + 8)
                let owner = try r.string(maxBytes: Bounds.owner)
                let name = try r.string(maxBytes: Bounds.keyName)
                let tier = try r.string(maxBytes: Bounds.name)
                let scopes = try r.list(maxCount: Bounds.scopes, minEntryBytes: 2) { (r: inout ByteReader) throws(RecordDecodingError) in
                    try r.string(maxBytes: Bounds.scope)
                }
                let rawState = try r.u8()
                guard let state = KeyState(rawValue: rawState) else { throw r.failure("unknown key state \(rawState)") }
                let createdAt = Timestamp(microseconds: try r.i64())
                let expiresAt = try r.optional { (r: inout ByteReader) throws(RecordDecodingError) in Timestamp(microseconds: try r.i64()) }
                let revokedAt = try r.optional { (r: inout ByteReader) throws(RecordDecodingError) in Timestamp(microseconds: try r.i64()) }
                let credits = try r.optional { (r: inout ByteReader) throws(RecordDecodingError) in try r.u64() }
                let refill = try r.optional { (r: inout ByteReader) throws(RecordDecodingError) -> CreditRefill in
                    let amount = try r.u64()
                    let rawPeriod = try r.u8()
                    guard let period = CreditRefill.Period(rawValue: rawPeriod) else { throw r.failure("unknown refill period \(rawPeriod)") }
                    return CreditRefill(amount: amount, period: period)
                }
                let lastRefill = try r.i64()
                let overrides = try r.list(maxCount: Bounds.limits, minEntryBytes: 22) { (r: inout ByteReader) throws(RecordDecodingError) in
                    try Limit.decode(from: &r)
                }
                let metadataPairs = try r.list(maxCount: Bounds.metadataEntries, minEntryBytes: 4) { (r: inout ByteReader) throws(RecordDecodingError) in
                    (try r.string(maxBytes: Bounds.metadataKey), try r.string(maxBytes: Bounds.metadataValue))
                }
                var metadata: [String: String] = [:]
                for (key, value) in metadataPairs {
                    guard metadata.updateValue(value, forKey: key) == nil else { throw r.failure("duplicate metadata key") }
                }
                let lastUsedAt = try r.optional { (r: inout ByteReader) throws(RecordDecodingError) in Timestamp(microseconds: try r.i64()) }
                let graceUntil = try r.optional { (r: inout ByteReader) throws(RecordDecodingError) in Timestamp(microseconds: try r.i64()) }
                let info = KeyInfo(
                    id: id, displayPrefix: displayPrefix, owner: owner, name: name, tier: tier, scopes: scopes,
                    state: state, createdAt: createdAt, expiresAt: expiresAt, revokedAt: revokedAt, credits: credits,
                    refill: refill, limitOverrides: overrides, metadata: metadata, lastUsedAt: lastUsedAt,
                    previousKeyGraceUntil: graceUntil)
                return .primary(info, lastRefillPeriod: lastRefill)
            case 2:
                let id = try r.string(maxBytes: KeyID.length)
                return .rotated(id: id, graceUntil: Timestamp(microseconds: try r.i64()))
            case let other:
                throw r.failure("unknown key record kind \(other)")
            }
        }
    }
}

/// Key ids: `key_` + 16 base62 characters (95 random bits). Public, fixed-length, so the
/// tables keyed by them sort and split cleanly.
enum KeyID {
    static let prefix = "key_"
    static let length = 20

    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = Array(prefix.utf8)
        Base62.appendRandomDigits(length - bytes.count, to: &bytes, using: &generator)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isValid(_ id: String) -> Bool {
        id.utf8.count == length && id.hasPrefix(prefix) && id.utf8.dropFirst(prefix.utf8.count).allSatisfy(Base62.isDigit)
    }
}

// MARK: Counters

/// A counter's stored value: the limiter state and when it stops mattering (for the sweeper).
struct StoredCounter: Sendable, Hashable {
    static let recordVersion: UInt8 = 1

    var state: CounterState
    /// From this time on the state equals a fresh one and may be deleted.
    var staleAt: Timestamp

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 42)
        writer.u8(Self.recordVersion)
        writer.i64(staleAt.microseconds)
        switch state {
        case .window(let start, let count):
            writer.u8(1)
            writer.i64(start)
            writer.u64(count)
        case .sliding(let start, let count, let previous):
            writer.u8(2)
            writer.i64(start)
            writer.u64(count)
            writer.u64(previous)
        case .bucket(let tokens, let updated):
            writer.u8(3)
            writer.i128(tokens)
            writer.i64(updated)
        case .gcra(let arrival):
            writer.u8(4)
            writer.i128(arrival)
        case .log(let entries):
            writer.u8(5)
            writer.list(entries) { writer, entry in
                writer.i64(entry.at)
                writer.u64(entry.cost)
            }
        }
        return writer.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> StoredCounter {
        try decodeRecord(bytes, as: "counter") { (r: inout ByteReader) throws(RecordDecodingError) in
            _ = try r.version(supported: 1...1)
            let staleAt = Timestamp(microseconds: try r.i64())
            let state: CounterState
            switch try r.u8() {
            case 1: state = .window(start: try r.i64(), count: try r.u64())
            case 2: state = .sliding(start: try r.i64(), count: try r.u64(), previous: try r.u64())
            case 3: state = .bucket(scaledTokens: try r.i128(), updated: try r.i64())
            case 4: state = .gcra(scaledArrival: try r.i128())
            case 5: state = .log(entries: try Self.decodeLog(&r))
            case let other: throw r.failure("unknown counter kind \(other)")
            }
            return StoredCounter(state: state, staleAt: staleAt)
        }
    }

    /// A sliding log as ``SlidingLog`` writes it: at most ``SlidingLog/maximumQuantity`` entries
    /// (no valid limit keeps more), times strictly increasing, no entry of cost 0.
    private static func decodeLog(_ r: inout ByteReader) throws(RecordDecodingError) -> [SlidingLogEntry] {
        let entries = try r.list(maxCount: Int(SlidingLog.maximumQuantity), minEntryBytes: 16) { (r: inout ByteReader) throws(RecordDecodingError) in
            SlidingLogEntry(at: try r.i64(), cost: try r.u64())
        }
        var previous: Int64?
        for entry in entries {
            guard entry.cost > 0 else { throw r.failure("a sliding log entry of cost 0") }
            if let previous, entry.at <= previous { throw r.failure("sliding log entries out of order") }
            previous = entry.at
        }
        return entries
    }
}

// MARK: Usage

/// One key's use on one UTC day. Allowed counts are exact (written in the decision's
/// transaction); denied counts are gathered in memory and written with the next commit.
public struct DailyUsage: Sendable, Hashable {
    /// Days since 1970-01-01 (UTC).
    public var day: Int64
    public var allowed: UInt64
    public var denied: UInt64
    /// Cost units consumed (after refunds).
    public var consumed: UInt64

    public init(day: Int64, allowed: UInt64, denied: UInt64, consumed: UInt64) {
        self.day = day
        self.allowed = allowed
        self.denied = denied
        self.consumed = consumed
    }

    static let recordVersion: UInt8 = 1

    static func tableKey(keyID: String, day: Int64) -> [UInt8] {
        var bytes = Array(keyID.utf8)
        bytes.appendBigEndian(UInt32(truncatingIfNeeded: max(day, 0)))
        return bytes
    }

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 25)
        writer.u8(Self.recordVersion)
        writer.u64(allowed)
        writer.u64(denied)
        writer.u64(consumed)
        return writer.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, day: Int64) throws(RecordDecodingError) -> DailyUsage {
        try decodeRecord(bytes, as: "usage") { (r: inout ByteReader) throws(RecordDecodingError) in
            _ = try r.version(supported: 1...1)
            return DailyUsage(day: day, allowed: try r.u64(), denied: try r.u64(), consumed: try r.u64())
        }
    }
}

// MARK: Audit

/// One lifecycle change, as kept in the `audit` table. Never holds a secret or a hash.
public struct AuditEvent: Sendable, Hashable {
    public enum Kind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case keyCreated = 1, keyRotated, keyRevoked, keyDisabled, keyEnabled, keyTierChanged
        case keyCreditsAdded, keyImported, tierSet, tierRemoved, countersReset, storeCreated

        public var description: String {
            switch self {
            case .keyCreated: "key.created"
            case .keyRotated: "key.rotated"
            case .keyRevoked: "key.revoked"
            case .keyDisabled: "key.disabled"
            case .keyEnabled: "key.enabled"
            case .keyTierChanged: "key.tier-changed"
            case .keyCreditsAdded: "key.credits-added"
            case .keyImported: "key.imported"
            case .tierSet: "tier.set"
            case .tierRemoved: "tier.removed"
            case .countersReset: "counters.reset"
            case .storeCreated: "store.created"
            }
        }
    }

    public var at: Timestamp
    public var kind: Kind
    /// Who did it (an admin's name, a service, `cli`).
    public var actor: String
    /// The key or tier concerned.
    public var subject: String
    /// What changed, in words (`tier free → pro`).
    public var detail: String

    static let recordVersion: UInt8 = 1

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(Self.recordVersion)
        writer.i64(at.microseconds)
        writer.u8(kind.rawValue)
        writer.string(actor.truncated(toUTF8Bytes: Bounds.actor))
        writer.string(subject.truncated(toUTF8Bytes: Bounds.owner))
        writer.string(detail.truncated(toUTF8Bytes: Bounds.auditDetail))
        return writer.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> AuditEvent {
        try decodeRecord(bytes, as: "audit") { (r: inout ByteReader) throws(RecordDecodingError) in
            _ = try r.version(supported: 1...1)
            let at = Timestamp(microseconds: try r.i64())
            let rawKind = try r.u8()
            guard let kind = Kind(rawValue: rawKind) else { throw r.failure("unknown audit kind \(rawKind)") }
            return AuditEvent(
                at: at, kind: kind,
                actor: try r.string(maxBytes: Bounds.actor),
                subject: try r.string(maxBytes: Bounds.owner),
                detail: try r.string(maxBytes: Bounds.auditDetail))
        }
    }
}

// MARK: Meta

/// The store's identity and settings, in the `meta` table (one record under `"store"`).
public struct StoreMeta: Sendable, Hashable {
    /// This build reads and writes format 1.
    public static let currentFormatVersion: UInt32 = 1

    public var formatVersion: UInt32
    /// 16 random bytes, hex: tells backups and copies of a store apart from other stores.
    public var storeID: String
    public var createdAt: Timestamp
    public var hashScheme: KeyHashScheme
    var pepperFingerprint: [UInt8]
    public var keyPrefix: String
    /// Bumped on every tier change (lets caches of policies notice).
    public var policyGeneration: UInt64

    static let recordVersion: UInt8 = 1

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(Self.recordVersion)
        writer.u32(formatVersion)
        writer.string(storeID)
        writer.i64(createdAt.microseconds)
        writer.u8(hashScheme.rawValue)
        writer.u8(UInt8(pepperFingerprint.count))
        writer.raw(pepperFingerprint)
        writer.string(keyPrefix)
        writer.u64(policyGeneration)
        return writer.bytes
    }

    /// Reads just the format version, which every future format keeps in the same place.
    static func formatVersion(of bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> UInt32 {
        var reader = ByteReader(bytes, record: "meta")
        _ = try reader.u8()
        return try reader.u32()
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> StoreMeta {
        try decodeRecord(bytes, as: "meta") { (r: inout ByteReader) throws(RecordDecodingError) in
            _ = try r.version(supported: 1...1)
            let formatVersion = try r.u32()
            let storeID = try r.string(maxBytes: 64)
            let createdAt = Timestamp(microseconds: try r.i64())
            let rawScheme = try r.u8()
            guard let scheme = KeyHashScheme(rawValue: rawScheme) else { throw r.failure("unknown hash scheme \(rawScheme)") }
            let fingerprintLength = Int(try r.u8())
            guard fingerprintLength <= 32 else { throw r.failure("pepper fingerprint of \(fingerprintLength) bytes") }
            let fingerprint = Array(try r.take(fingerprintLength))
            let keyPrefix = try r.string(maxBytes: KeyFormat.maximumPrefixLength)
            let generation = try r.u64()
            return StoreMeta(
                formatVersion: formatVersion, storeID: storeID, createdAt: createdAt, hashScheme: scheme,
                pepperFingerprint: fingerprint, keyPrefix: keyPrefix, policyGeneration: generation)
        }
    }
}

extension String {
    /// The longest prefix of whole characters that fits in `maxBytes` of UTF-8.
    func truncated(toUTF8Bytes maxBytes: Int) -> String {
        guard utf8.count > maxBytes else { return self }
        var result = ""
        for character in self {
            guard result.utf8.count + character.utf8.count <= maxBytes else { break }
            result.append(character)
        }
        return result
    }
}
