import Foundation
import Testing
@testable import Tollgate

/// One test per crash the fuzz targets found (Fuzz/FailCases/<target>/<name> holds the input;
/// Docs/fuzzing.md lists them). Each failed — trapped — before its fix.
@Suite struct FuzzFindingsTests {
    /// The directory of the fail cases, from this file's place in the repository.
    static let failCases = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/FailCases")

    /// Replays a `records` fail case the way the fuzz target frames it: byte 0 the table, byte 1
    /// the key's length, then key and value.
    static func decodeRecordsInput(_ name: String) throws -> DumpRecord? {
        let input = Array(try Data(contentsOf: failCases.appendingPathComponent("records/" + name)))
        let keyLength = min(Int(input[1] % 64), input.count - 2)
        return input.withUnsafeBytes { raw in
            try? DumpRecord.decode(
                table: DumpTable.allCases[Int(input[0] % 8)], key: UnsafeRawBufferPointer(rebasing: raw[2..<2 + keyLength]),
                value: UnsafeRawBufferPointer(rebasing: raw[(2 + keyLength)...]), now: Timestamp(seconds: 1_767_225_600))
        }
    }

    /// records/counter-stale-at-int64-min: a counter whose stale-at time is `Int64.min` µs trapped
    /// `dump` in `Timestamp.iso8601` (`seconds * 1_000_000` overflowed).
    @Test func aTimestampAtEitherEndOfTheTimelineFormats() throws {
        #expect(Timestamp(microseconds: Int64.min).iso8601 == "-290308-12-21T19:59:05.224192Z")
        #expect(Timestamp(microseconds: Int64.max).iso8601 == "294247-01-10T04:00:54.775807Z")
        #expect(Timestamp(microseconds: -1).iso8601 == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(microseconds: 0).iso8601 == "1970-01-01T00:00:00.000000Z")
        let record = try #require(try Self.decodeRecordsInput("counter-stale-at-int64-min"))
        #expect(record.jsonLine.contains("\"stale_at\":\"-290308-12-21T19:59:05.224192Z\""))
    }

    /// records/usage-day-beyond-int64-microseconds: a usage record whose day (u32 in its table
    /// key) lies past what `Int64` microseconds can name trapped `dump` (`day * 86_400_000_000`).
    @Test func aUsageDayOfAnySizeFormats() throws {
        #expect(Timestamp.isoDate(day: 0) == "1970-01-01")
        #expect(Timestamp.isoDate(day: 20_454) == "2026-01-01")
        #expect(Timestamp.isoDate(day: Int64(UInt32.max)) == "11761191-01-20")
        let record = try #require(try Self.decodeRecordsInput("usage-day-beyond-int64-microseconds"))
        #expect(record.textLine.hasPrefix("usage  key_id="))
    }

    /// limits/spec-error-of-invalid-utf8: a spec of bytes that are not UTF-8 came back in its
    /// error three times as long (each byte a U+FFFD), and control characters went through to
    /// the message as they were. Now both become `?`, and an error is never longer than its input.
    @Test func specErrorsShowNoControlCharactersAndStayShort() throws {
        let input = Array(try Data(contentsOf: Self.failCases.appendingPathComponent("limits/spec-error-of-invalid-utf8")))
        let error = #expect(throws: Limit.SpecError.self) { try input.withUnsafeBytes { try Limit(specBytes: $0) } }
        #expect((error?.spec.utf8.count ?? .max) <= input.count)
        let escape = #expect(throws: Limit.SpecError.self) { try Limit(spec: "10/\u{1B}[2Jsecond") }
        #expect(escape?.part == "?[2Jsecond")
        #expect(escape?.description.contains("\u{1B}") == false)
    }
}
