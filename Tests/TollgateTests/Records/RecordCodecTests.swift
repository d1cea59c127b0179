import Testing
@testable import Tollgate
import TollgateTestSupport

// Every stored record decodes what it encoded, and nothing else: truncations, trailing bytes,
// unknown versions, random bytes and single-byte mutations are typed errors, never traps.
// Every random run is seeded (SplitMix64), so a failure names what to replay.

// MARK: - Random record values

/// Characters of validated names (tiers, limits, subjects).
private let nameAlphabet: [Character] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:")
/// Pieces of free text: ASCII, multi-byte UTF-8, a combining mark, an emoji.
private let textPieces: [String] = ["a", "Z", "0", " ", "-", "=", "é", "ß", "日本", "🦊", "\u{301}", "…", "key"]

private struct Generator {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    // Plain modulo (its bias is irrelevant here): the generic `random(in:using:)` is slow in
    // debug builds, and the fuzz loops draw millions of numbers.
    mutating func chance(_ percent: UInt64) -> Bool { rng.next() % 100 < percent }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(rng.next() % (UInt64(range.upperBound - range.lowerBound) + 1))
    }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: rng.next()) }

    /// `count` random bytes, eight per draw (fuzz loops make millions).
    mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < count {
                var word = rng.next()
                let length = min(8, count - offset)
                withUnsafeBytes(of: &word) { source in
                    buffer.baseAddress!.advanced(by: offset).copyMemory(from: source.baseAddress!, byteCount: length)
                }
                offset += length
            }
        }
        return result
    }

    mutating func u64() -> UInt64 {
        switch int(0...9) {
        case 0: return 0
        case 1: return UInt64.max
        case 2: return UInt64.max - 1
        case 3, 4: return UInt64.random(in: 0...1_000, using: &rng)
        default: return rng.next()
        }
    }

    mutating func i64() -> Int64 {
        switch int(0...9) {
        case 0: return Int64.min
        case 1: return Int64.max
        case 2: return 0
        case 3: return -1
        case 4: return Int64.random(in: -1_000...1_000, using: &rng)
        default: return Int64(bitPattern: rng.next())
        }
    }

    mutating func i128() -> Int128 {
        switch int(0...7) {
        case 0: return Int128.min
        case 1: return Int128.max
        case 2: return 0
        case 3: return -1
        default:
            let high = Int64(bitPattern: rng.next())
            let low = rng.next()
            return Int128(high) << 64 | Int128(low)
        }
    }

    mutating func timestamp() -> Timestamp { Timestamp(microseconds: i64()) }

    /// 1…`maxBytes` name characters; often exactly `maxBytes`.
    mutating func name(maxBytes: Int = Bounds.name) -> String {
        let count = chance(20) ? maxBytes : int(1...maxBytes)
        var result = ""
        for _ in 0..<count { result.append(nameAlphabet[int(0...nameAlphabet.count - 1)]) }
        return result
    }

    /// Free text of at most `maxBytes` UTF-8 bytes (at least one piece unless `allowEmpty`).
    mutating func text(maxBytes: Int, allowEmpty: Bool = true) -> String {
        let target = chance(15) ? maxBytes : int(0...min(maxBytes, 40))
        var result = ""
        while true {
            let piece = textPieces[int(0...textPieces.count - 1)]
            if result.utf8.count + piece.utf8.count > target { break }
            result += piece
        }
        if result.isEmpty && !allowEmpty { result = "x" }
        return result
    }

    mutating func strategy() -> Strategy { Strategy.allCases[int(0...Strategy.allCases.count - 1)] }

    mutating func subject() -> LimitSubject {
        switch int(0...3) {
        case 0: return .key
        case 1: return .owner
        case 2: return .custom(name(maxBytes: Bounds.subjectName))
        default: return .global
        }
    }

    /// A limit that passes validation, with extreme values now and then.
    mutating func limit(named limitName: String? = nil) -> Limit {
        let quantity: UInt64 = chance(10) ? UInt64.max : UInt64.random(in: 1...1_000_000, using: &rng)
        let window: Int64 = chance(10) ? Int64.max : (chance(10) ? 1 : Int64.random(in: 1...90_000_000_000, using: &rng))
        let burst: UInt64? = chance(50) ? nil : (chance(10) ? UInt64.max : UInt64.random(in: 1...1_000, using: &rng))
        let strategy = strategy()
        // A sliding log keeps one entry per request: validation caps its quantity.
        let bounded = strategy == .slidingLog ? (chance(10) ? SlidingLog.maximumQuantity : quantity % SlidingLog.maximumQuantity + 1) : quantity
        return Limit(name: limitName ?? name(), strategy: strategy, quantity: bounded, windowMicroseconds: window, burst: burst, subject: subject())
    }

    /// `count` limits with distinct names.
    mutating func limits(count: Int) -> [Limit] {
        var result: [Limit] = []
        var names = Set<String>()
        while result.count < count {
            let candidate = limit()
            if names.insert(candidate.name).inserted { result.append(candidate) }
        }
        return result
    }

    mutating func tier() -> Tier {
        let count = chance(5) ? Bounds.limits : int(0...4)
        return Tier(name: name(), limits: limits(count: count))
    }

    mutating func keyID() -> String {
        let digits = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var id = KeyID.prefix
        for _ in 0..<(KeyID.length - KeyID.prefix.count) { id.append(digits[int(0...61)]) }
        return id
    }

    mutating func optional<T>(_ make: (inout Generator) -> T) -> T? {
        chance(50) ? make(&self) : nil
    }

    mutating func keyInfo(allOptionals: Bool? = nil) -> KeyInfo {
        func pick<T>(_ generator: inout Generator, _ make: (inout Generator) -> T) -> T? {
            switch allOptionals {
            case .some(true): return make(&generator)
            case .some(false): return nil
            case .none: return generator.optional(make)
            }
        }
        let scopeCount = chance(5) ? Bounds.scopes : int(0...3)
        var scopes: [String] = []
        for _ in 0..<scopeCount { scopes.append(text(maxBytes: Bounds.scope, allowEmpty: false)) }
        let metadataCount = chance(5) ? Bounds.metadataEntries : int(0...3)
        var metadata: [String: String] = [:]
        for _ in 0..<metadataCount {
            metadata[text(maxBytes: Bounds.metadataKey, allowEmpty: false)] = text(maxBytes: Bounds.metadataValue)
        }
        let overrideCount = chance(5) ? Bounds.limits : int(0...2)
        let state: KeyState = [KeyState.active, .disabled, .revoked][int(0...2)]
        return KeyInfo(
            id: keyID(),
            displayPrefix: text(maxBytes: KeyFormat.maximumKeyLength + 8),
            owner: text(maxBytes: Bounds.owner, allowEmpty: false),
            name: text(maxBytes: Bounds.keyName),
            tier: name(),
            scopes: scopes,
            state: state,
            createdAt: timestamp(),
            expiresAt: pick(&self) { $0.timestamp() },
            revokedAt: pick(&self) { $0.timestamp() },
            credits: pick(&self) { $0.u64() },
            refill: pick(&self) { generator in
                CreditRefill(amount: generator.u64(), period: generator.chance(50) ? .day : .month)
            },
            limitOverrides: limits(count: overrideCount),
            metadata: metadata,
            lastUsedAt: pick(&self) { $0.timestamp() },
            previousKeyGraceUntil: pick(&self) { $0.timestamp() })
    }

    mutating func storedKey() -> StoredKey {
        chance(20) ? .rotated(id: keyID(), graceUntil: timestamp()) : .primary(keyInfo(), lastRefillPeriod: i64())
    }

    mutating func counterState() -> CounterState {
        switch int(0...4) {
        case 0: return .window(start: i64(), count: u64())
        case 1: return .sliding(start: i64(), count: u64(), previous: u64())
        case 2: return .bucket(scaledTokens: i128(), updated: i64())
        case 3: return .gcra(scaledArrival: i128())
        default:
            // Strictly increasing times and costs > 0, as the decoder insists.
            var at = i64() / 2
            return .log(entries: (0..<int(0...40)).map { _ in
                at = at.saturatingAdding(Int64(int(1...1_000_000)))
                return SlidingLogEntry(at: at, cost: max(1, u64()))
            }.reduce(into: []) { entries, entry in if entries.last.map({ $0.at < entry.at }) ?? true { entries.append(entry) } })
        }
    }

    mutating func auditEvent() -> AuditEvent {
        AuditEvent(
            at: timestamp(), kind: AuditEvent.Kind.allCases[int(0...AuditEvent.Kind.allCases.count - 1)],
            actor: text(maxBytes: Bounds.actor), subject: text(maxBytes: Bounds.owner), detail: text(maxBytes: Bounds.auditDetail))
    }

    mutating func storeMeta() -> StoreMeta {
        var fingerprint: [UInt8] = []
        for _ in 0..<(chance(50) ? 0 : int(1...32)) { fingerprint.append(byte()) }
        return StoreMeta(
            formatVersion: UInt32.random(in: 0...UInt32.max, using: &rng),
            storeID: text(maxBytes: 64),
            createdAt: timestamp(),
            hashScheme: chance(50) ? .sha256 : .hmacSHA256,
            pepperFingerprint: fingerprint,
            keyPrefix: text(maxBytes: KeyFormat.maximumPrefixLength),
            policyGeneration: u64())
    }

    mutating func counterSubject() -> CounterSubject {
        switch int(0...3) {
        case 0: return .key(id: keyID())
        case 1: return .owner(text(maxBytes: Bounds.owner, allowEmpty: false))
        case 2:
            // A value starting with a combining mark is not parsed back: see
            // `customSubjectValueStartingWithACombiningMarkParsesBack`.
            var value = text(maxBytes: Bounds.subjectValue, allowEmpty: false)
            if value.unicodeScalars.first == "\u{301}" { value = "v" + value }
            return .custom(name: name(maxBytes: Bounds.subjectName), value: value)
        default: return .global
        }
    }
}

// MARK: - The codecs under test

/// One stored record type: how to make, encode and decode its values.
private protocol RecordCodec {
    associatedtype Value: Hashable
    /// The `record` a decoding error of this type names.
    static var record: String { get }
    /// Hand-written values that must round-trip (every optional set and unset, extremes).
    static var examples: [Value] { get }
    static func random(_ generator: inout Generator) -> Value
    static func encode(_ value: Value) -> [UInt8]
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> Value
}

private enum KeyCodec: RecordCodec {
    static let record = "key"
    static var examples: [StoredKey] {
        var generator = Generator(seed: 11)
        return [
            .primary(generator.keyInfo(allOptionals: true), lastRefillPeriod: 20_454),
            .primary(generator.keyInfo(allOptionals: false), lastRefillPeriod: 0),
            .primary(generator.keyInfo(allOptionals: true), lastRefillPeriod: Int64.min),
            .primary(generator.keyInfo(allOptionals: false), lastRefillPeriod: Int64.max),
            .rotated(id: generator.keyID(), graceUntil: Timestamp(microseconds: Int64.max)),
            .rotated(id: generator.keyID(), graceUntil: Timestamp(microseconds: Int64.min)),
            .rotated(id: "", graceUntil: Timestamp(microseconds: 0)),
        ]
    }
    static func random(_ generator: inout Generator) -> StoredKey { generator.storedKey() }
    static func encode(_ value: StoredKey) -> [UInt8] { value.encoded() }
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> StoredKey { try StoredKey.decode(bytes) }
}

private enum TierCodec: RecordCodec {
    static let record = "tier"
    static var examples: [Tier] {
        var plain: [Limit] = []
        var bursty: [Limit] = []
        for strategy in Strategy.allCases {
            for subject in [LimitSubject.key, .owner, .custom("ip"), .global] {
                let index = plain.count + 1
                plain.append(Limit(name: "l\(index)", strategy: strategy, quantity: UInt64(index), windowMicroseconds: Int64(index) * 1_000, burst: nil, subject: subject))
                bursty.append(Limit(name: "b\(index)", strategy: strategy, quantity: UInt64(index), windowMicroseconds: Int64(index) * 1_000, burst: 7, subject: subject))
            }
        }
        let extremes = [
            Limit(name: "max", strategy: .gcra, quantity: UInt64.max, windowMicroseconds: Int64.max, burst: UInt64.max, subject: .custom(String(repeating: "s", count: Bounds.subjectName))),
            Limit(name: String(repeating: "n", count: Bounds.name), strategy: .tokenBucket, quantity: 1, windowMicroseconds: 1, burst: 1, subject: .global),
        ]
        return [
            Tier(name: "empty", limits: []),
            Tier(name: "every-strategy-and-subject", limits: plain),
            Tier(name: "every-strategy-and-subject-with-burst", limits: bursty),
            Tier(name: String(repeating: "t", count: Bounds.name), limits: extremes),
        ]
    }
    static func random(_ generator: inout Generator) -> Tier { generator.tier() }
    static func encode(_ value: Tier) -> [UInt8] { value.encoded() }
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> Tier { try Tier.decode(bytes) }
}

private enum CounterCodec: RecordCodec {
    static let record = "counter"
    static var examples: [StoredCounter] {
        let stale = Timestamp(microseconds: 1_767_225_600_000_000)
        let states: [CounterState] = [
            .window(start: 0, count: 0),
            .window(start: Int64.min, count: UInt64.max),
            .window(start: Int64.max, count: 1),
            .sliding(start: Int64.min, count: UInt64.max, previous: UInt64.max),
            .sliding(start: Int64.max, count: 0, previous: 0),
            .bucket(scaledTokens: Int128.min, updated: Int64.min),
            .bucket(scaledTokens: Int128.max, updated: Int64.max),
            .bucket(scaledTokens: 0, updated: 0),
            .gcra(scaledArrival: Int128.min),
            .gcra(scaledArrival: Int128.max),
            .gcra(scaledArrival: -1),
            .log(entries: []),
            .log(entries: [SlidingLogEntry(at: Int64.min, cost: UInt64.max), SlidingLogEntry(at: Int64.max, cost: 1)]),
            .log(entries: (0..<1_000).map { SlidingLogEntry(at: 1_767_225_600_000_000 + Int64($0), cost: 1) }),
        ]
        var result = states.map { StoredCounter(state: $0, staleAt: stale) }
        result.append(StoredCounter(state: .gcra(scaledArrival: 0), staleAt: Timestamp(microseconds: Int64.min)))
        result.append(StoredCounter(state: .gcra(scaledArrival: 0), staleAt: Timestamp(microseconds: Int64.max)))
        return result
    }
    static func random(_ generator: inout Generator) -> StoredCounter {
        StoredCounter(state: generator.counterState(), staleAt: generator.timestamp())
    }
    static func encode(_ value: StoredCounter) -> [UInt8] { value.encoded() }
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> StoredCounter { try StoredCounter.decode(bytes) }
}

private enum UsageCodec: RecordCodec {
    /// The day is the table key's, not the value's: every value here is of this day.
    static let day: Int64 = 20_454
    static let record = "usage"
    static var examples: [DailyUsage] {
        [
            DailyUsage(day: day, allowed: 0, denied: 0, consumed: 0),
            DailyUsage(day: day, allowed: UInt64.max, denied: UInt64.max, consumed: UInt64.max),
            DailyUsage(day: day, allowed: 1, denied: 2, consumed: 3),
        ]
    }
    static func random(_ generator: inout Generator) -> DailyUsage {
        DailyUsage(day: day, allowed: generator.u64(), denied: generator.u64(), consumed: generator.u64())
    }
    static func encode(_ value: DailyUsage) -> [UInt8] { value.encoded() }
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> DailyUsage { try DailyUsage.decode(bytes, day: day) }
}

private enum AuditCodec: RecordCodec {
    static let record = "audit"
    static var examples: [AuditEvent] {
        var result: [AuditEvent] = []
        for kind in AuditEvent.Kind.allCases {
            result.append(AuditEvent(at: Timestamp(microseconds: Int64(kind.rawValue)), kind: kind, actor: "cli", subject: "key_0123456789abcdef", detail: "tier free → pro"))
        }
        result.append(AuditEvent(at: Timestamp(microseconds: Int64.min), kind: .tierSet, actor: "", subject: "", detail: ""))
        result.append(AuditEvent(
            at: Timestamp(microseconds: Int64.max), kind: .storeCreated,
            actor: String(repeating: "a", count: Bounds.actor), subject: String(repeating: "s", count: Bounds.owner),
            detail: String(repeating: "é", count: Bounds.auditDetail / 2)))
        return result
    }
    static func random(_ generator: inout Generator) -> AuditEvent { generator.auditEvent() }
    static func encode(_ value: AuditEvent) -> [UInt8] { value.encoded() }
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> AuditEvent { try AuditEvent.decode(bytes) }
}

private enum MetaCodec: RecordCodec {
    static let record = "meta"
    static var examples: [StoreMeta] {
        [
            StoreMeta(formatVersion: 1, storeID: "00112233445566778899aabbccddeeff", createdAt: Timestamp(seconds: 1_767_225_600),
                      hashScheme: .sha256, pepperFingerprint: [], keyPrefix: "tg_live_", policyGeneration: 0),
            StoreMeta(formatVersion: UInt32.max, storeID: String(repeating: "f", count: 64), createdAt: Timestamp(microseconds: Int64.min),
                      hashScheme: .hmacSHA256, pepperFingerprint: Array(0..<32), keyPrefix: String(repeating: "p", count: KeyFormat.maximumPrefixLength),
                      policyGeneration: UInt64.max),
            StoreMeta(formatVersion: 0, storeID: "", createdAt: Timestamp(microseconds: Int64.max),
                      hashScheme: .hmacSHA256, pepperFingerprint: [0xFF], keyPrefix: "", policyGeneration: 1),
        ]
    }
    static func random(_ generator: inout Generator) -> StoreMeta { generator.storeMeta() }
    static func encode(_ value: StoreMeta) -> [UInt8] { value.encoded() }
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> StoreMeta { try StoreMeta.decode(bytes) }
}

/// The record types, as test arguments.
enum StoredRecordType: String, CaseIterable, Sendable, CustomStringConvertible {
    case key, tier, counter, usage, audit, meta

    var description: String { rawValue }

    fileprivate var codec: any RecordCodec.Type {
        switch self {
        case .key: KeyCodec.self
        case .tier: TierCodec.self
        case .counter: CounterCodec.self
        case .usage: UsageCodec.self
        case .audit: AuditCodec.self
        case .meta: MetaCodec.self
        }
    }

    /// Distinct seeds per record type.
    var seed: UInt64 {
        switch self {
        case .key: 0x1001
        case .tier: 0x2002
        case .counter: 0x3003
        case .usage: 0x4004
        case .audit: 0x5005
        case .meta: 0x6006
        }
    }
}

// MARK: - Helpers

/// The first few failures, each cut short: enough to replay, not a wall of bytes.
private func brief(_ failures: [String]) -> String {
    let shown = failures.prefix(3).map { $0.count > 400 ? String($0.prefix(400)) + "…" : $0 }
    return "\(failures.count) failure(s): " + shown.joined(separator: " | ")
}

private func decoded<C: RecordCodec>(_: C.Type, _ bytes: [UInt8]) -> Result<C.Value, RecordDecodingError> {
    bytes.withUnsafeBytes { raw in
        do throws(RecordDecodingError) {
            return .success(try C.decode(raw))
        } catch {
            return .failure(error)
        }
    }
}

/// Whether `bytes` fail to decode with an error naming the record type.
private func rejects<C: RecordCodec>(_ codec: C.Type, _ bytes: [UInt8]) -> Bool {
    switch decoded(codec, bytes) {
    case .success: return false
    case .failure(let error): return error.record == C.record
    }
}

/// Values for a codec: its examples and `count` random ones.
private func values<C: RecordCodec>(_: C.Type, count: Int, seed: UInt64) -> [C.Value] {
    var generator = Generator(seed: seed)
    var result = C.examples
    for _ in 0..<count { result.append(C.random(&generator)) }
    return result
}

/// Decodes arbitrary bytes; when they decode, the value must encode to bytes that decode to it
/// again (the decoder accepts nothing the encoder cannot represent). Returns a failure, if any.
private func checkArbitrary<C: RecordCodec>(_ codec: C.Type, _ bytes: [UInt8]) -> String? {
    switch decoded(codec, bytes) {
    case .failure(let error):
        return error.record == C.record ? nil : "error names record \(error.record)"
    case .success(let value):
        let again = decoded(codec, C.encode(value))
        guard case .success(let reread) = again, reread == value else {
            return "decoded \(bytes) to \(value), which does not survive re-encoding"
        }
        return nil
    }
}

// MARK: - Properties of every record type

@Suite("Record codecs")
struct RecordCodecTests {
    static let fuzzIterations = 50_000

    @Test("encode → decode is the identity", arguments: StoredRecordType.allCases)
    func roundTrip(_ type: StoredRecordType) {
        roundTrip(type.codec, seed: type.seed)
    }

    private func roundTrip<C: RecordCodec>(_ codec: C.Type, seed: UInt64) {
        var failures: [String] = []
        for value in values(codec, count: 300, seed: seed) {
            let bytes = C.encode(value)
            let result = decoded(codec, bytes)
            guard case .success(let decodedValue) = result, decodedValue == value else {
                failures.append("\(value) → \(result)")
                continue
            }
            if C.encode(decodedValue) != bytes { failures.append("\(value) re-encodes differently") }
        }
        #expect(failures.isEmpty, "\(brief(failures))")
    }

    @Test("every strict prefix is rejected", arguments: StoredRecordType.allCases)
    func truncation(_ type: StoredRecordType) {
        truncation(type.codec, seed: type.seed &+ 1)
    }

    private func truncation<C: RecordCodec>(_ codec: C.Type, seed: UInt64) {
        var failures: [String] = []
        var checked = 0
        for value in values(codec, count: 25, seed: seed) {
            let bytes = C.encode(value)
            // Quadratic in the length: the few records of kilobytes are cut at a stride.
            let stride = bytes.count > 1_000 ? 7 : 1
            for length in Swift.stride(from: 0, to: bytes.count, by: stride) {
                checked += 1
                if !rejects(codec, Array(bytes[..<length])) { failures.append("\(value) cut to \(length) of \(bytes.count) bytes decodes") }
            }
            if !rejects(codec, Array(bytes.dropLast())) { failures.append("\(value) without its last byte decodes") }
        }
        #expect(failures.isEmpty, "\(brief(failures))")
        #expect(checked > 500)
    }

    @Test("a trailing byte is rejected", arguments: StoredRecordType.allCases)
    func trailingByte(_ type: StoredRecordType) {
        trailingByte(type.codec, seed: type.seed &+ 2)
    }

    private func trailingByte<C: RecordCodec>(_ codec: C.Type, seed: UInt64) {
        var failures: [String] = []
        var generator = Generator(seed: seed)
        for value in values(codec, count: 100, seed: seed) {
            let bytes = C.encode(value)
            for extra in [UInt8(0), 1, generator.byte()] {
                switch decoded(codec, bytes + [extra]) {
                case .success: failures.append("\(value) + \(extra) decodes")
                case .failure(let error):
                    if !error.reason.contains("trailing") { failures.append("\(value) + \(extra): \(error.reason)") }
                }
            }
        }
        #expect(failures.isEmpty, "\(brief(failures))")
    }

    @Test("an unknown version byte is rejected", arguments: StoredRecordType.allCases)
    func unknownVersion(_ type: StoredRecordType) {
        unknownVersion(type.codec, seed: type.seed &+ 3)
    }

    private func unknownVersion<C: RecordCodec>(_ codec: C.Type, seed: UInt64) {
        var failures: [String] = []
        for value in values(codec, count: 20, seed: seed) {
            let bytes = C.encode(value)
            if bytes.first != 1 { failures.append("\(value) is not written as version 1") }
            for version: UInt8 in [0, 2, 3, 0x7F, 0x80, 255] {
                var changed = bytes
                changed[0] = version
                switch decoded(codec, changed) {
                case .success: failures.append("\(value) as version \(version) decodes")
                case .failure(let error):
                    if !error.reason.contains("version") { failures.append("version \(version): \(error.reason)") }
                }
            }
        }
        #expect(failures.isEmpty, "\(brief(failures))")
    }

    @Test("random byte strings decode or throw, never trap", arguments: StoredRecordType.allCases)
    func randomBytes(_ type: StoredRecordType) {
        randomBytes(type.codec, seed: type.seed &+ 4)
    }

    private func randomBytes<C: RecordCodec>(_ codec: C.Type, seed: UInt64) {
        var generator = Generator(seed: seed)
        var failures: [String] = []
        for _ in 0..<Self.fuzzIterations {
            let length = generator.int(0...300)
            var bytes = generator.bytes(length)
            // Most random strings die at the version byte: often start like a real record.
            if length > 0 && generator.chance(75) { bytes[0] = 1 }
            if length > 1 && generator.chance(50) { bytes[1] = UInt8(generator.int(0...4)) }
            if let failure = checkArbitrary(codec, bytes) { failures.append(failure) }
        }
        #expect(failures.isEmpty, "\(brief(failures))")
    }

    @Test("single-byte mutations of valid records decode or throw, never trap", arguments: StoredRecordType.allCases)
    func mutations(_ type: StoredRecordType) {
        mutations(type.codec, seed: type.seed &+ 5)
    }

    private func mutations<C: RecordCodec>(_ codec: C.Type, seed: UInt64) {
        var generator = Generator(seed: seed)
        // Records of kilobytes are covered by the other properties; here they would only cost time.
        var originals = C.examples.map(C.encode).filter { $0.count <= 600 }
        var attempts = 0
        while originals.count < 64 && attempts < 2_000 {
            attempts += 1
            let bytes = C.encode(C.random(&generator))
            if bytes.count <= 600 { originals.append(bytes) }
        }
        #expect(originals.count == 64, "only \(originals.count) records to mutate")
        var failures: [String] = []
        var stillDecoding = 0
        for iteration in 0..<Self.fuzzIterations {
            var bytes = originals[generator.int(0...originals.count - 1)]
            let index = generator.int(0...bytes.count - 1)
            bytes[index] = bytes[index] ^ UInt8(generator.int(1...255))
            // Debug builds decode slowly: every 8th mutation also checks the re-encoding.
            let reencode = iteration % 8 == 0
            switch decoded(codec, bytes) {
            case .success:
                stillDecoding += 1
                if reencode, let failure = checkArbitrary(codec, bytes) { failures.append(failure) }
            case .failure(let error):
                if error.record != C.record { failures.append("error names record \(error.record)") }
            }
        }
        #expect(failures.isEmpty, "\(brief(failures))")
        // The mutations must reach past the header: many still decode (a changed count, a date).
        #expect(stillDecoding > Self.fuzzIterations / 20)
    }
}

// MARK: - Specific rejections

@Suite("Record codecs: lengths, limits, counter keys")
struct RecordCodecEdgeTests {
    private static func writer(_ build: (inout ByteWriter) -> Void) -> [UInt8] {
        var writer = ByteWriter()
        build(&writer)
        return writer.bytes
    }

    /// The head of a primary key record, up to (not including) its scope list.
    private static func keyHead(_ writer: inout ByteWriter) {
        writer.u8(1)
        writer.u8(1)
        writer.string("key_0123456789abcdef")
        writer.string("tg_live_abcd…")
        writer.string("acme")
        writer.string("")
        writer.string("free")
    }

    /// Each must be refused by a bound check before any proportional work, so quickly.
    @Test func oversizedDeclaredLengthsAreRejectedUpFront() {
        typealias Decode = (UnsafeRawBufferPointer) throws -> Void
        var cases: [(String, [UInt8], Decode)] = []
        cases.append(("tier name of 0xFFFF bytes", [1, 0xFF, 0xFF, 0x61, 0x62], { _ = try Tier.decode($0) }))
        cases.append(("tier with 0xFFFF limits", Self.writer { $0.u8(1); $0.string("t"); $0.u16(0xFFFF); $0.raw([1, 2, 3]) }, { _ = try Tier.decode($0) }))
        cases.append(("tier with 32 limits in 10 bytes", Self.writer { $0.u8(1); $0.string("t"); $0.u16(32); $0.raw([UInt8](repeating: 0, count: 10)) }, { _ = try Tier.decode($0) }))
        cases.append(("limit name of 0xFFFF bytes", Self.writer { $0.u8(1); $0.string("t"); $0.u16(1); $0.u16(0xFFFF); $0.raw([UInt8](repeating: 0x61, count: 30)) }, { _ = try Tier.decode($0) }))
        cases.append(("key id of 0xFFFF bytes", Self.writer { $0.u8(1); $0.u8(1); $0.u16(0xFFFF); $0.raw([0x6B]) }, { _ = try StoredKey.decode($0) }))
        cases.append(("rotated key id of 0xFFFF bytes", Self.writer { $0.u8(1); $0.u8(2); $0.u16(0xFFFF); $0.raw([0x6B]) }, { _ = try StoredKey.decode($0) }))
        cases.append(("key with 0xFFFF scopes", Self.writer { Self.keyHead(&$0); $0.u16(0xFFFF); $0.raw([0, 1, 0x61]) }, { _ = try StoredKey.decode($0) }))
        cases.append(("key with 64 scopes in 3 bytes", Self.writer { Self.keyHead(&$0); $0.u16(64); $0.raw([0, 1, 0x61]) }, { _ = try StoredKey.decode($0) }))
        cases.append(("scope of 0xFFFF bytes", Self.writer { Self.keyHead(&$0); $0.u16(1); $0.u16(0xFFFF); $0.raw([0x61, 0x62]) }, { _ = try StoredKey.decode($0) }))
        cases.append(("audit detail of 0xFFFF bytes", Self.writer { $0.u8(1); $0.i64(0); $0.u8(1); $0.string("a"); $0.string("s"); $0.u16(0xFFFF); $0.raw([0x64]) }, { _ = try AuditEvent.decode($0) }))
        cases.append(("audit actor of 0xFFFF bytes", Self.writer { $0.u8(1); $0.i64(0); $0.u8(1); $0.u16(0xFFFF); $0.raw([0x64]) }, { _ = try AuditEvent.decode($0) }))
        cases.append(("store id of 0xFFFF bytes", Self.writer { $0.u8(1); $0.u32(1); $0.u16(0xFFFF); $0.raw([0x30]) }, { _ = try StoreMeta.decode($0) }))
        cases.append(("pepper fingerprint of 255 bytes", Self.writer { $0.u8(1); $0.u32(1); $0.string("id"); $0.i64(0); $0.u8(2); $0.u8(255); $0.raw([1, 2]) }, { _ = try StoreMeta.decode($0) }))
        let clock = ContinuousClock()
        for (name, bytes, decode) in cases {
            var threw = 0
            let elapsed = clock.measure {
                for _ in 0..<1_000 {
                    do { try bytes.withUnsafeBytes { try decode($0) } } catch { threw += 1 }
                }
            }
            #expect(threw == 1_000, "\(name) decodes")
            #expect(elapsed < .seconds(1), "\(name): 1,000 rejections took \(elapsed)")
        }
        // The reason shows the bound was checked before reading or reserving anything.
        let scopes = Self.writer { Self.keyHead(&$0); $0.u16(0xFFFF); $0.raw([0, 1, 0x61]) }
        let error = scopes.withUnsafeBytes { raw -> RecordDecodingError? in
            do throws(RecordDecodingError) { _ = try StoredKey.decode(raw); return nil } catch { return error }
        }
        #expect(error?.reason.contains("exceeds") == true, "\(String(describing: error))")
        let crowded = Self.writer { Self.keyHead(&$0); $0.u16(64); $0.raw([0, 1, 0x61]) }
        let crowdedError = crowded.withUnsafeBytes { raw -> RecordDecodingError? in
            do throws(RecordDecodingError) { _ = try StoredKey.decode(raw); return nil } catch { return error }
        }
        #expect(crowdedError?.reason.contains("cannot fit") == true, "\(String(describing: crowdedError))")
    }

    private static func tierBytes(_ limits: [Limit]) -> [UInt8] {
        Tier(name: "t", limits: limits).encoded()
    }

    private static func tierError(_ bytes: [UInt8]) -> RecordDecodingError? {
        bytes.withUnsafeBytes { raw -> RecordDecodingError? in
            do throws(RecordDecodingError) { _ = try Tier.decode(raw); return nil } catch { return error }
        }
    }

    private static func keyError(_ bytes: [UInt8]) -> RecordDecodingError? {
        bytes.withUnsafeBytes { raw -> RecordDecodingError? in
            do throws(RecordDecodingError) { _ = try StoredKey.decode(raw); return nil } catch { return error }
        }
    }

    @Test func decodedLimitsAreValidated() {
        let valid = Limit(name: "ok", strategy: .fixedWindow, quantity: 1, windowMicroseconds: 1, burst: 1, subject: .custom("ip"))
        #expect(Self.tierError(Self.tierBytes([valid])) == nil)

        var invalid: [(String, Limit)] = []
        var zeroQuantity = valid
        zeroQuantity.quantity = 0
        invalid.append(("quantity 0", zeroQuantity))
        var zeroWindow = valid
        zeroWindow.windowMicroseconds = 0
        invalid.append(("window 0", zeroWindow))
        var negativeWindow = valid
        negativeWindow.windowMicroseconds = Int64.min
        invalid.append(("negative window", negativeWindow))
        var zeroBurst = valid
        zeroBurst.burst = 0
        invalid.append(("burst 0", zeroBurst))
        var emptyName = valid
        emptyName.name = ""
        invalid.append(("empty name", emptyName))
        var spacedName = valid
        spacedName.name = "a b"
        invalid.append(("name with a space", spacedName))
        var badSubject = valid
        badSubject.subject = .custom("ip=1")
        invalid.append(("subject name with '='", badSubject))
        var longSubject = valid
        longSubject.subject = .custom(String(repeating: "s", count: Bounds.subjectName + 1))
        invalid.append(("subject name over its bound", longSubject))
        var emptySubject = valid
        emptySubject.subject = .custom("")
        invalid.append(("empty subject name", emptySubject))

        for (what, limit) in invalid {
            let error = Self.tierError(Self.tierBytes([valid, limit]))
            #expect(error != nil, "a tier with a limit of \(what) decodes")
            var keyGenerator = Generator(seed: 5)
            var key = keyGenerator.keyInfo(allOptionals: false)
            key.limitOverrides = [limit]
            let keyError = Self.keyError(StoredKey.primary(key, lastRefillPeriod: 0).encoded())
            #expect(keyError != nil, "a key with an override of \(what) decodes")
        }

        // Unknown strategy and subject bytes: the limit starts after version, name, count.
        let bytes = Self.tierBytes([valid])
        let strategyOffset = 1 + 2 + 1 + 2 + 2 + valid.name.utf8.count
        #expect(bytes[strategyOffset] == Strategy.fixedWindow.rawValue)
        for strategy: UInt8 in [0, 8, 0x80, 255] {
            var changed = bytes
            changed[strategyOffset] = strategy
            let error = Self.tierError(changed)
            #expect(error?.reason.contains("strategy") == true, "strategy byte \(strategy): \(String(describing: error))")
        }
        let subjectOffset = strategyOffset + 1 + 8 + 8 + 1 + 8
        #expect(bytes[subjectOffset] == 3)
        for subject: UInt8 in [0, 5, 255] {
            var changed = bytes
            changed[subjectOffset] = subject
            #expect(Self.tierError(changed) != nil, "subject kind \(subject) decodes")
        }
        // Booleans are 0 or 1.
        let burstFlagOffset = strategyOffset + 1 + 8 + 8
        #expect(bytes[burstFlagOffset] == 1)
        var badFlag = bytes
        badFlag[burstFlagOffset] = 2
        #expect(Self.tierError(badFlag)?.reason.contains("boolean") == true)
    }

    @Test func unknownEnumerationBytesAreRejected() {
        var keyGenerator = Generator(seed: 6)
        var key = keyGenerator.keyInfo(allOptionals: false)
        key.scopes = []
        key.limitOverrides = []
        key.metadata = [:]
        let bytes = StoredKey.primary(key, lastRefillPeriod: 0).encoded()
        // version, kind, then five strings, the empty scope list, the state byte.
        var offset = 2
        for field in [key.id, key.displayPrefix, key.owner, key.name, key.tier] { offset += 2 + field.utf8.count }
        offset += 2
        #expect(bytes[offset] == key.state.rawValue)
        for state: UInt8 in [0, 4, 255] {
            var changed = bytes
            changed[offset] = state
            #expect(Self.keyError(changed)?.reason.contains("state") == true, "key state \(state)")
        }
        for kind: UInt8 in [0, 3, 255] {
            var changed = bytes
            changed[1] = kind
            #expect(Self.keyError(changed)?.reason.contains("kind") == true, "key record kind \(kind)")
        }
        // A refill period byte of 3.
        key.refill = CreditRefill(amount: 5, period: .month)
        var withRefill = StoredKey.primary(key, lastRefillPeriod: 0).encoded()
        // ... state, createdAt, expires flag, revoked flag, credits flag, refill flag, amount, period.
        let periodOffset = offset + 1 + 8 + 1 + 1 + 1 + 1 + 8
        #expect(withRefill[periodOffset] == CreditRefill.Period.month.rawValue)
        withRefill[periodOffset] = 3
        #expect(Self.keyError(withRefill)?.reason.contains("refill") == true)

        // Duplicate metadata keys: a map cannot hold them.
        var duplicate = Self.writer { writer in
            Self.keyHead(&writer)
            writer.u16(0)
            writer.u8(KeyState.active.rawValue)
            writer.i64(0)
            for _ in 0..<4 { writer.u8(0) }
            writer.i64(0)
            writer.u16(0)
            writer.u16(2)
            for _ in 0..<2 {
                writer.string("env")
                writer.string("prod")
            }
            writer.u8(0)
            writer.u8(0)
        }
        #expect(Self.keyError(duplicate)?.reason.contains("duplicate") == true)
        // The same record with distinct keys decodes: the test above fails for the right reason.
        if let index = duplicate.lastIndex(of: UInt8(ascii: "v")) { duplicate[index] = UInt8(ascii: "w") }
        #expect(Self.keyError(duplicate) == nil)

        let counter = StoredCounter(state: .gcra(scaledArrival: 1), staleAt: Timestamp(microseconds: 0)).encoded()
        for kind: UInt8 in [0, 6, 255] {
            var changed = counter
            changed[9] = kind
            let error = changed.withUnsafeBytes { raw -> RecordDecodingError? in
                do throws(RecordDecodingError) { _ = try StoredCounter.decode(raw); return nil } catch { return error }
            }
            #expect(error?.reason.contains("kind") == true, "counter kind \(kind)")
        }
        let audit = AuditEvent(at: Timestamp(microseconds: 0), kind: .keyCreated, actor: "a", subject: "s", detail: "d").encoded()
        for kind: UInt8 in [0, 13, 255] {
            var changed = audit
            changed[9] = kind
            let error = changed.withUnsafeBytes { raw -> RecordDecodingError? in
                do throws(RecordDecodingError) { _ = try AuditEvent.decode(raw); return nil } catch { return error }
            }
            #expect(error?.reason.contains("kind") == true, "audit kind \(kind)")
        }
        let meta = MetaCodec.examples[0].encoded()
        let schemeOffset = 1 + 4 + 2 + 32 + 8
        #expect(meta[schemeOffset] == KeyHashScheme.sha256.rawValue)
        for scheme: UInt8 in [0, 3, 255] {
            var changed = meta
            changed[schemeOffset] = scheme
            let error = changed.withUnsafeBytes { raw -> RecordDecodingError? in
                do throws(RecordDecodingError) { _ = try StoreMeta.decode(raw); return nil } catch { return error }
            }
            #expect(error?.reason.contains("scheme") == true, "hash scheme \(scheme)")
        }
    }

    @Test func invalidUTF8IsRejected() {
        for bad: [UInt8] in [[0xFF], [0xC3], [0xE6, 0x97], [0xED, 0xA0, 0x80], [0x61, 0x80]] {
            let tier = [1, 0, UInt8(bad.count)] + bad + [0, 0]
            #expect(Self.tierError(tier)?.reason.contains("UTF-8") == true, "\(bad)")
        }
    }

    /// Over-long audit fields are cut to their bound when written. A cut inside a multi-byte
    /// character must keep the characters before it; it must not drop the whole field.
    @Test func overlongAuditFieldsAreCutAtACharacterBoundary() throws {
        let asciiActor = String(repeating: "a", count: Bounds.actor + 10)
        let ascii = try AuditEvent(at: Timestamp(microseconds: 0), kind: .tierSet, actor: asciiActor, subject: "s", detail: "d").encoded()
            .withUnsafeBytes { try AuditEvent.decode($0) }
        #expect(ascii.actor == String(repeating: "a", count: Bounds.actor))

        // 127 ASCII bytes, then "é" (2 bytes) straddling the 128-byte bound.
        let actor = String(repeating: "a", count: Bounds.actor - 1) + "é"
        let detail = String(repeating: "d", count: Bounds.auditDetail - 1) + "µs and more"
        let event = AuditEvent(at: Timestamp(microseconds: 0), kind: .tierSet, actor: actor, subject: "s", detail: detail)
        let decoded = try event.encoded().withUnsafeBytes { try AuditEvent.decode($0) }
        #expect(decoded.actor == String(repeating: "a", count: Bounds.actor - 1))
        #expect(decoded.detail == String(repeating: "d", count: Bounds.auditDetail - 1))
    }

    /// The same through the store: `setTier` audits a summary of the limits ("name=q/wµs, …");
    /// a long tier's summary is cut at 1,024 bytes, and wherever the cut splits a "µ" the event
    /// is logged with no detail at all. Shifting the limit names moves the cut over every offset.
    @Test func aLongTierSummaryIsNeverAuditedEmpty() throws {
        let temporary = try TemporaryStore { $0.durability = .periodic(interval: .seconds(3_600)) }
        defer { temporary.remove() }
        var tiers = 0
        for second in [1, Bounds.name] {
            for first in 1...Bounds.name {
                var limits: [Limit] = []
                for index in 0..<Bounds.limits {
                    let length = index == 0 ? first : (index == 1 ? second : Bounds.name)
                    let name = String(String(index).padding(toLength: Bounds.name, withPad: "x", startingAt: 0).prefix(length))
                    limits.append(Limit(name: name, strategy: .fixedWindow, quantity: 1, windowMicroseconds: 1_000_000))
                }
                try temporary.store.setTier(Tier(name: "long", limits: limits))
                tiers += 1
            }
        }
        let events = try temporary.store.auditEvents().filter { $0.kind == .tierSet }
        #expect(events.count == tiers)
        let empty = events.filter { $0.detail.isEmpty }.count
        #expect(empty == 0)
    }

    // MARK: Counter keys

    @Test func counterKeysRoundTripAndSubjectRangesAreDisjoint() throws {
        var generator = Generator(seed: 0xC0)
        var subjects: [CounterSubject] = [
            .global, .key(id: "key_0123456789abcdef"), .owner("acme"), .owner("acme2"), .owner("a"),
            .custom(name: "ip", value: "10.0.0.1"), .custom(name: "ip", value: "10.0.0.1=x"), .custom(name: "i", value: "p=10.0.0.1"),
            .owner("日本🦊"), .custom(name: "route", value: "GET /reports"),
        ]
        for _ in 0..<300 { subjects.append(generator.counterSubject()) }
        var failures: [String] = []
        for subject in subjects {
            let prefix = subject.prefix
            if prefix.last != 0 || prefix.dropLast().contains(0) { failures.append("\(subject): prefix \(prefix) is not NUL-terminated once") }
            for limit in ["a", "minute", generator.name()] {
                let bytes = subject.tableKey(limit: limit)
                if !bytes.starts(with: prefix) { failures.append("\(subject)/\(limit) does not start with its prefix") }
                let parsed = try bytes.withUnsafeBytes { try CounterSubject.parse($0) }
                if parsed.subject != subject || parsed.limit != limit { failures.append("\(subject)/\(limit) parses as \(parsed)") }
            }
        }
        // One subject's counters are one key range: no subject's prefix starts another's.
        for (index, first) in subjects.enumerated() {
            for second in subjects[(index + 1)...] where first != second {
                if first.prefix.starts(with: second.prefix) || second.prefix.starts(with: first.prefix) {
                    failures.append("\(first) and \(second) share a key range")
                }
            }
        }
        #expect(failures.isEmpty, "\(brief(failures))")
    }

    private static func parses(_ bytes: [UInt8]) -> (subject: CounterSubject, limit: String)? {
        bytes.withUnsafeBytes { raw -> (subject: CounterSubject, limit: String)? in
            do throws(RecordDecodingError) { return try CounterSubject.parse(raw) } catch { return nil }
        }
    }

    /// The custom subject's name and value are split at the first "=" — but `parse` searches
    /// `Character`s, and "=" followed by a combining mark is one grapheme, not "=". Request
    /// subject values are only checked for length and NUL, so such a value is possible.
    @Test func customSubjectValueStartingWithACombiningMarkParsesBack() throws {
        let plain = CounterSubject.custom(name: "user", value: "x\u{301}")
        let plainParsed = try plain.tableKey(limit: "minute").withUnsafeBytes { try CounterSubject.parse($0) }
        #expect(plainParsed.subject == plain)

        let unparseable = CounterSubject.custom(name: "user", value: "\u{301}x")
        let misparsed = CounterSubject.custom(name: "user", value: "\u{301}=x")
        let first = Self.parses(unparseable.tableKey(limit: "minute"))
        let second = Self.parses(misparsed.tableKey(limit: "minute"))
        #expect(first?.subject == unparseable, "parsed as \(String(describing: first))")
        #expect(second?.subject == misparsed, "parsed as \(String(describing: second))")
    }

    @Test func malformedCounterKeysAreRejected() {
        var generator = Generator(seed: 0xC1)
        var failures: [String] = []
        // Cut before the limit name: rejected. Cut inside it: the same subject, a shorter name.
        for _ in 0..<200 {
            let subject = generator.counterSubject()
            let limit = generator.name()
            let bytes = subject.tableKey(limit: limit)
            let prefixLength = subject.prefix.count
            for length in 0..<bytes.count {
                let parsed = Self.parses(Array(bytes[..<length]))
                if length <= prefixLength {
                    if let parsed { failures.append("\(bytes) cut to \(length) parses as \(parsed)") }
                } else if parsed?.subject != subject || parsed?.limit != String(limit.prefix(length - prefixLength)) {
                    failures.append("\(bytes) cut to \(length) parses as \(String(describing: parsed))")
                }
            }
        }
        let malformed: [(String, [UInt8])] = [
            ("empty", []),
            ("kind only", [1]),
            ("no separator", [2, 0x61, 0x62]),
            ("no limit name", [2, 0x61, 0]),
            ("unknown kind 0", [0, 0x61, 0, 0x6C]),
            ("unknown kind 5", [5, 0x61, 0, 0x6C]),
            ("unknown kind 255", [255, 0x61, 0, 0x6C]),
            ("custom without '='", [3, 0x69, 0x70, 0, 0x6C]),
            ("global with a subject", [4, 0x61, 0, 0x6C]),
            ("invalid UTF-8 subject", [2, 0xFF, 0, 0x6C]),
            ("invalid UTF-8 limit", [2, 0x61, 0, 0xC3]),
        ]
        for (what, bytes) in malformed {
            if let parsed = Self.parses(bytes) { failures.append("\(what) parses as \(parsed)") }
        }
        #expect(failures.isEmpty, "\(brief(failures))")
    }

    @Test func randomAndMutatedCounterKeysParseOrThrowAndParsedKeysReencodeExactly() {
        var generator = Generator(seed: 0xC2)
        var failures: [String] = []
        var originals: [[UInt8]] = []
        for _ in 0..<64 { originals.append(generator.counterSubject().tableKey(limit: generator.name())) }
        var parsedCount = 0
        for iteration in 0..<(2 * RecordCodecTests.fuzzIterations) {
            var bytes: [UInt8]
            if iteration % 2 == 0 {
                let length = generator.int(0...300)
                bytes = generator.bytes(length)
                if length > 0 && generator.chance(75) { bytes[0] = UInt8(generator.int(1...4)) }
                // Separators are what the parser looks for: plant some.
                if length > 2 && generator.chance(50) { bytes[generator.int(1...length - 1)] = 0 }
                if length > 2 && generator.chance(30) { bytes[generator.int(1...length - 1)] = 0x3D }
            } else {
                bytes = originals[generator.int(0...originals.count - 1)]
                let index = generator.int(0...bytes.count - 1)
                bytes[index] = bytes[index] ^ UInt8(generator.int(1...255))
            }
            guard let parsed = Self.parses(bytes) else { continue }
            parsedCount += 1
            if parsed.subject.tableKey(limit: parsed.limit) != bytes { failures.append("\(bytes) parses as \(parsed), which encodes differently") }
        }
        #expect(failures.isEmpty, "\(brief(failures))")
        #expect(parsedCount > RecordCodecTests.fuzzIterations / 10)
    }
}
