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
}
