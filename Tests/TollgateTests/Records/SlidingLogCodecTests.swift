import Testing
@testable import Tollgate

/// The sliding log's counter record (kind 5): its size, its round trip, and what the decoder refuses.
@Suite struct SlidingLogCodecTests {
    static let stale = Timestamp(microseconds: 1_767_225_660_000_000)

    static func full(_ count: Int) -> CounterState {
        .log(entries: (0..<count).map { SlidingLogEntry(at: 1_767_225_600_000_000 + 60_000 * Int64($0), cost: 1) })
    }

    static func decode(_ bytes: [UInt8]) throws -> StoredCounter {
        try bytes.withUnsafeBytes { try StoredCounter.decode($0) }
    }

    @Test("12 bytes plus 16 per entry: 1,612 B at q = 100, 16,012 B at q = 1,000; round trips", arguments: [0, 1, 100, 1_000])
    func sizeAndRoundTrip(entries: Int) throws {
        let counter = StoredCounter(state: Self.full(entries), staleAt: Self.stale)
        let bytes = counter.encoded()
        #expect(bytes.count == 12 + 16 * entries)
        #expect(try Self.decode(bytes) == counter)
    }

    /// The header the encoder writes for `count` entries; the entries follow.
    static func header(count: UInt16) -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(StoredCounter.recordVersion)
        writer.i64(stale.microseconds)
        writer.u8(5)
        writer.u16(count)
        return writer.bytes
    }

    static func entry(_ at: Int64, _ cost: UInt64) -> [UInt8] {
        var writer = ByteWriter()
        writer.i64(at)
        writer.u64(cost)
        return writer.bytes
    }

    @Test("more than 1,000 entries, times out of order or repeated, a cost of 0, a truncated log: typed errors")
    func refusals() {
        let tooMany = Self.header(count: 1_001) + (0..<1_001).flatMap { Self.entry(Int64($0), 1) }
        let cases: [(String, [UInt8])] = [
            ("exceeds 1000", tooMany),
            ("out of order", Self.header(count: 2) + Self.entry(5, 1) + Self.entry(4, 1)),
            ("out of order", Self.header(count: 2) + Self.entry(5, 1) + Self.entry(5, 1)),
            ("cost 0", Self.header(count: 1) + Self.entry(5, 0)),
            ("cannot fit", Array((Self.header(count: 1) + Self.entry(5, 1)).dropLast())),
            ("cannot fit", Self.header(count: 2) + Self.entry(5, 1)),
        ]
        for (reason, bytes) in cases {
            do {
                let decoded = try Self.decode(bytes)
                Issue.record("decoded \(decoded) where \(reason) was expected")
            } catch let error as RecordDecodingError {
                #expect(error.reason.contains(reason), "\(error)")
            } catch {
                Issue.record("not a RecordDecodingError: \(error)")
            }
        }
        // The largest log a valid limit writes still decodes.
        #expect((try? Self.decode(Self.header(count: 1_000) + (0..<1_000).flatMap { Self.entry(Int64($0), 1) })) != nil)
    }

    @Test("a stored tier with a sliding log above 1,000 is refused")
    func storedLimitBound() throws {
        let bytes = Tier(name: "t", limits: [Limit(name: "x", strategy: .slidingLog, quantity: 1_001, windowMicroseconds: 1_000_000)]).encoded()
        #expect(throws: RecordDecodingError.self) { try bytes.withUnsafeBytes { try Tier.decode($0) } }
        let fine = Tier(name: "t", limits: [Limit(name: "x", strategy: .slidingLog, quantity: 1_000, windowMicroseconds: 1_000_000)])
        #expect(try fine.encoded().withUnsafeBytes { try Tier.decode($0) } == fine)
    }
}
