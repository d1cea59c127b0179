import Crypto
import Foundation
import Testing
@testable import Tollgate
import TollgateTestSupport

/// Format 1 pinned in committed bytes. The codec tests check that decode inverts encode; a change
/// made to both sides at once passes them and still breaks every existing store. These tests
/// compare today's encoder with bytes committed when format 1 was current, decode those bytes
/// back to the same values, and open a store file written by format-1 code.
///
/// After a deliberate format change (with a new format version and a migration), rewrite the
/// fixtures with `TOLLGATE_WRITE_GOLDEN=1 swift test --filter GoldenFormatTests` and review the diff.
@Suite struct GoldenFormatTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path
    static let recordsFile = directory + "/format1-records.txt"
    static let storeDirectory = directory + "/format1-store"
    static var rewriting: Bool { ProcessInfo.processInfo.environment["TOLLGATE_WRITE_GOLDEN"] == "1" }

    /// One fixed value of a record (or table key) kind: its bytes and whether bytes decode to it.
    struct Sample: Sendable {
        let name: String
        let bytes: [UInt8]
        let decodesBack: @Sendable ([UInt8]) throws -> Bool
    }

    static func sample<T: Equatable & Sendable>(_ name: String, _ value: T, _ encode: (T) -> [UInt8],
                                                 _ decode: @escaping @Sendable (UnsafeRawBufferPointer) throws -> T) -> Sample {
        Sample(name: name, bytes: encode(value)) { bytes in try bytes.withUnsafeBytes { try decode($0) } == value }
    }

    static let createdAt = Timestamp(microseconds: 1_767_225_600_123_456)

    static var keyInfo: KeyInfo {
        KeyInfo(id: "key_0123456789ABCDEF", displayPrefix: "tg_live_AbC", owner: "acme", name: "ci é", tier: "free",
                scopes: ["items:read", "reports:read"], state: .active, createdAt: createdAt,
                expiresAt: Timestamp(microseconds: 1_798_761_600_000_000), revokedAt: nil, credits: 500,
                refill: CreditRefill(amount: 1_000, period: .month),
                limitOverrides: [Limit(name: "burst", strategy: .tokenBucket, quantity: 20, windowMicroseconds: 1_000_000, burst: 40, subject: .key)],
                metadata: ["plan": "annual", "region": "eu"], lastUsedAt: Timestamp(microseconds: 1_767_225_700_000_000),
                previousKeyGraceUntil: nil)
    }

    static var samples: [Sample] {
        var result: [Sample] = []
        // The strategies of format 1's first release, in their order; a strategy added since has
        // samples of its own below, so these bytes stay as committed.
        let firstStrategies: [Strategy] = [.fixedWindow, .slidingWindow, .tokenBucket, .gcra, .calendarDay, .calendarMonth]
        let limits = firstStrategies.enumerated().map { index, strategy in
            Limit(name: "l\(index)", strategy: strategy, quantity: UInt64(index + 3), windowMicroseconds: Int64(index + 1) * 60_000_000,
                  burst: strategy == .tokenBucket || strategy == .gcra ? 9 : nil,
                  subject: [LimitSubject.key, .owner, .custom("ip"), .global][index % 4])
        }
        result.append(sample("tier", Tier(name: "free", limits: limits), { $0.encoded() }, { try Tier.decode($0) }))
        result.append(sample("tier-empty", Tier(name: "empty", limits: []), { $0.encoded() }, { try Tier.decode($0) }))
        result.append(sample("key-primary", StoredKey.primary(keyInfo, lastRefillPeriod: 20_454), { $0.encoded() }, { try StoredKey.decode($0) }))
        var bare = keyInfo
        (bare.expiresAt, bare.credits, bare.refill, bare.lastUsedAt, bare.limitOverrides, bare.metadata, bare.scopes) = (nil, nil, nil, nil, [], [:], [])
        bare.state = .revoked
        bare.revokedAt = Timestamp(microseconds: 1_767_300_000_000_000)
        result.append(sample("key-primary-bare", StoredKey.primary(bare, lastRefillPeriod: 0), { $0.encoded() }, { try StoredKey.decode($0) }))
        result.append(sample("key-rotated", StoredKey.rotated(id: "key_0123456789ABCDEF", graceUntil: createdAt), { $0.encoded() }, { try StoredKey.decode($0) }))
        let states: [(String, CounterState)] = [
            ("window", .window(start: 1_767_225_600_000_000, count: 3)),
            ("sliding", .sliding(start: 1_767_225_600_000_000, count: 2, previous: 5)),
            ("bucket", .bucket(scaledTokens: Int128(1) << 70 | 12_345, updated: 1_767_225_600_000_001)),
            ("gcra", .gcra(scaledArrival: -(Int128(1) << 66))),
        ]
        for (name, state) in states {
            result.append(sample("counter-\(name)", StoredCounter(state: state, staleAt: createdAt), { $0.encoded() }, { try StoredCounter.decode($0) }))
        }
        result.append(sample("usage", DailyUsage(day: 20_454, allowed: 7, denied: 2, consumed: 11), { $0.encoded() }, { try DailyUsage.decode($0, day: 20_454) }))
        result.append(sample("audit", AuditEvent(at: createdAt, kind: .keyTierChanged, actor: "cli", subject: "key_0123456789ABCDEF", detail: "free → pro"),
                             { $0.encoded() }, { try AuditEvent.decode($0) }))
        result.append(sample("meta", StoreMeta(formatVersion: 1, storeID: "store_golden", createdAt: createdAt, hashScheme: .hmacSHA256,
                                               pepperFingerprint: [1, 2, 3, 4, 5, 6, 7, 8], keyPrefix: "tg_live_", policyGeneration: 42),
                             { $0.encoded() }, { try StoreMeta.decode($0) }))
        // Table keys: the layout a range scan and the sweeper depend on.
        let subjects: [(String, CounterSubject)] = [
            ("key", .key(id: "key_0123456789ABCDEF")), ("owner", .owner("acme")), ("custom", .custom(name: "ip", value: "203.0.113.7")), ("global", .global),
        ]
        for (name, subject) in subjects {
            result.append(Sample(name: "counter-key-\(name)", bytes: subject.tableKey(limit: "minute")) { bytes in
                let parsed = try bytes.withUnsafeBytes { try CounterSubject.parse($0) }
                return parsed.subject == subject && parsed.limit == "minute"
            })
        }
        result.append(Sample(name: "usage-key", bytes: DailyUsage.tableKey(keyID: "key_0123456789ABCDEF", day: 20_454)) { _ in true })
        // The sliding log (strategy 7, counter kind 5), added within format 1.
        let logLimits = [
            Limit(name: "minute", strategy: .slidingLog, quantity: 100, windowMicroseconds: 60_000_000, subject: .key),
            Limit(name: "ip", strategy: .slidingLog, quantity: 1_000, windowMicroseconds: 90_000_000, subject: .custom("ip")),
        ]
        result.append(sample("tier-sliding-log", Tier(name: "partner", limits: logLimits), { $0.encoded() }, { try Tier.decode($0) }))
        let log = CounterState.log(entries: [
            SlidingLogEntry(at: 1_767_225_600_000_000, cost: 1), SlidingLogEntry(at: 1_767_225_600_000_001, cost: 3),
            SlidingLogEntry(at: 1_767_225_659_999_999, cost: 96),
        ])
        result.append(sample("counter-sliding-log", StoredCounter(state: log, staleAt: createdAt), { $0.encoded() }, { try StoredCounter.decode($0) }))
        result.append(sample("counter-sliding-log-empty", StoredCounter(state: .log(entries: []), staleAt: createdAt), { $0.encoded() }, { try StoredCounter.decode($0) }))
        return result
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    static func unhex(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16) ?? 0 }
    }

    static func committedRecords() throws -> [String: [UInt8]] {
        let text = try String(contentsOfFile: recordsFile, encoding: .utf8)
        var result: [String: [UInt8]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let bytes = unhex(parts[1]) { result[String(parts[0])] = bytes }
        }
        return result
    }

    @Test func todaysEncoderWritesTheCommittedFormat1Bytes() throws {
        if Self.rewriting {
            let lines = ["# Format 1 record bytes, written by GoldenFormatTests (TOLLGATE_WRITE_GOLDEN=1). Do not edit by hand."]
                + Self.samples.map { "\($0.name) \(Self.hex($0.bytes))" }
            try (lines.joined(separator: "\n") + "\n").write(toFile: Self.recordsFile, atomically: true, encoding: .utf8)
        }
        let committed = try Self.committedRecords()
        for sample in Self.samples {
            let bytes = try #require(committed[sample.name], "no committed bytes for \(sample.name)")
            #expect(Self.hex(sample.bytes) == Self.hex(bytes), "the encoding of \(sample.name) changed")
        }
        #expect(committed.count == Self.samples.count)
    }

    @Test func theCommittedFormat1BytesDecodeToTheSameValues() throws {
        let committed = try Self.committedRecords()
        for sample in Self.samples {
            let bytes = try #require(committed[sample.name])
            #expect(try sample.decodesBack(bytes), "the committed bytes of \(sample.name) decode to something else")
        }
    }

    // MARK: - A store file

    /// The secret of the golden store's one key: a test key, valid only in that fixture.
    static var secret: String {
        var generator = SplitMix64(seed: 0x70_11_6a_7e)
        return KeyFormat.default.generate(using: &generator)
    }
    static let storeClockStart = Timestamp(seconds: 1_767_225_600)

    static func writeGoldenStore() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        temporary.clock.set(storeClockStart)
        let store = temporary.store
        try store.setTier(Tier(name: "free", limits: [.perMinute(5), Limit(name: "day", strategy: .fixedWindow, quantity: 100, windowMicroseconds: 86_400_000_000)]))
        _ = try store.importKey(hash: Array(SHA256.hash(data: Array(secret.utf8))), displayPrefix: KeyFormat.default.displayPrefix(of: secret),
                                NewKey(owner: "golden", tier: "free", scopes: ["items:read"]))
        for _ in 0..<3 { _ = try await store.authorize(key: secret, scope: "items:read") }
        try? FileManager.default.removeItem(atPath: storeDirectory)
        try FileManager.default.createDirectory(atPath: storeDirectory, withIntermediateDirectories: true)
        try store.backup(to: storeDirectory + "/tmp-backup", compact: true)
        try FileManager.default.moveItem(atPath: storeDirectory + "/tmp-backup/data.mdb", toPath: storeDirectory + "/data.mdb")
        try FileManager.default.removeItem(atPath: storeDirectory + "/tmp-backup")
    }

    @Test func aStoreWrittenByFormat1CodeOpensAndDecides() async throws {
        if Self.rewriting { try await Self.writeGoldenStore() }
        let directory = NSTemporaryDirectory() + "tollgate-golden-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: Self.storeDirectory + "/data.mdb", toPath: directory + "/data.mdb")
        let clock = ManualClock(Self.storeClockStart.adding(microseconds: 10_000_000))
        var options = Store.Options(path: directory)
        options.clock = clock
        let store = try Store(options: options)
        defer { store.close() }

        #expect(try store.tier(named: "free") == Tier(name: "free", limits: [.perMinute(5), Limit(name: "day", strategy: .fixedWindow, quantity: 100, windowMicroseconds: 86_400_000_000)]))
        let keys = try store.keys(owner: "golden")
        try #require(keys.count == 1)
        #expect(keys[0].scopes == ["items:read"])
        #expect(keys[0].tier == "free")
        let usage = try store.usage(keyID: keys[0].id, days: 1, now: clock.now())
        #expect(usage.map(\.allowed) == [3])
        #expect(usage.map(\.consumed) == [3])
        #expect(try store.auditEvents().contains { $0.kind == .keyImported && $0.subject == keys[0].id })

        // Its counters carried over: 3 of 5 used this minute, so 2 more, then refused.
        for _ in 0..<2 { #expect(try await store.authorize(key: Self.secret, scope: "items:read").outcome == .allowed) }
        #expect(try await store.authorize(key: Self.secret, scope: "items:read").outcome == .rateLimited)
        #expect(try store.check().isEmpty)
    }
}
