// A refunded decision, in the `refunds` table under its 16-byte decision id: the record is what
// makes a refund happen at most once, across processes. It is swept after `until`, when a refund
// of that decision gives nothing back anyway.
struct RefundRecord: Sendable, Hashable {
    static let recordVersion: UInt8 = 1

    var until: Timestamp

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 9)
        writer.u8(Self.recordVersion)
        writer.i64(until.microseconds)
        return writer.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> RefundRecord {
        try decodeRecord(bytes, as: "refund") { (r: inout ByteReader) throws(RecordDecodingError) in
            _ = try r.version(supported: 1...1)
            return RefundRecord(until: Timestamp(microseconds: try r.i64()))
        }
    }
}
