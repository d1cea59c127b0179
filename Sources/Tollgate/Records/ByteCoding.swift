/// Why stored bytes did not decode. Carried as the `underlying` of a
/// ``TollgateError/Code/corruptRecord`` error.
public struct RecordDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var record: String
    public var reason: String
    public var description: String { "\(record) record: \(reason)" }
}

/// Appends a record's fields. Integers big-endian; strings and lists length-prefixed.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func u16(_ value: UInt16) { bytes.appendBigEndian(value) }
    mutating func u32(_ value: UInt32) { bytes.appendBigEndian(value) }
    mutating func u64(_ value: UInt64) { bytes.appendBigEndian(value) }
    mutating func i64(_ value: Int64) { bytes.appendBigEndian(value) }
    mutating func i128(_ value: Int128) { bytes.appendBigEndian(value) }
    mutating func raw(_ value: some Sequence<UInt8>) { bytes.append(contentsOf: value) }

    /// A UTF-8 string of at most 65,535 bytes (callers validate tighter bounds first).
    mutating func string(_ value: String) {
        let utf8 = value.utf8
        precondition(utf8.count <= Int(UInt16.max), "string field over 65535 bytes escaped validation")
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func optional<T>(_ value: T?, _ write: (inout ByteWriter, T) -> Void) {
        if let value {
            u8(1)
            write(&self, value)
        } else {
            u8(0)
        }
    }

    mutating func list<T>(_ values: [T], _ write: (inout ByteWriter, T) -> Void) {
        precondition(values.count <= Int(UInt16.max), "list field over 65535 entries escaped validation")
        u16(UInt16(values.count))
        for value in values { write(&self, value) }
    }
}

/// Reads a record's fields, never past the end: every read checks the bytes left first, and
/// lists are bounded by what the remaining bytes could hold before anything is allocated.
struct ByteReader: ~Copyable {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    let record: String

    init(_ bytes: UnsafeRawBufferPointer, record: String) {
        self.bytes = bytes
        self.record = record
    }

    var remaining: Int { bytes.count - offset }

    func failure(_ reason: String) -> RecordDecodingError { RecordDecodingError(record: record, reason: reason) }

    mutating func take(_ count: Int) throws(RecordDecodingError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else { throw failure("truncated at byte \(offset)") }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(RecordDecodingError) -> T {
        let raw = try take(MemoryLayout<T>.size)
        var value: T = 0
        for byte in raw { value = value << 8 | T(byte) }
        return value
    }

    mutating func u8() throws(RecordDecodingError) -> UInt8 { try integer(UInt8.self) }
    mutating func u16() throws(RecordDecodingError) -> UInt16 { try integer(UInt16.self) }
    mutating func u32() throws(RecordDecodingError) -> UInt32 { try integer(UInt32.self) }
    mutating func u64() throws(RecordDecodingError) -> UInt64 { try integer(UInt64.self) }
    mutating func i64() throws(RecordDecodingError) -> Int64 { try integer(Int64.self) }
    mutating func i128() throws(RecordDecodingError) -> Int128 { try integer(Int128.self) }

    mutating func bool() throws(RecordDecodingError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let other: throw failure("boolean byte \(other)")
        }
    }

    /// A length-prefixed UTF-8 string of at most `maxBytes`.
    mutating func string(maxBytes: Int) throws(RecordDecodingError) -> String {
        let count = Int(try u16())
        guard count <= maxBytes else { throw failure("string of \(count) bytes exceeds \(maxBytes)") }
        let raw = try take(count)
        guard let string = String(validating: raw, as: UTF8.self) else { throw failure("invalid UTF-8") }
        return string
    }

    mutating func optional<T>(_ read: (inout ByteReader) throws(RecordDecodingError) -> T) throws(RecordDecodingError) -> T? {
        try bool() ? read(&self) : nil
    }

    /// A length-prefixed list of at most `maxCount` entries, each at least `minEntryBytes` long.
    mutating func list<T>(
        maxCount: Int, minEntryBytes: Int, _ read: (inout ByteReader) throws(RecordDecodingError) -> T
    ) throws(RecordDecodingError) -> [T] {
        let count = Int(try u16())
        guard count <= maxCount else { throw failure("list of \(count) entries exceeds \(maxCount)") }
        guard count * max(minEntryBytes, 1) <= remaining else { throw failure("list of \(count) entries cannot fit in \(remaining) bytes") }
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try read(&self)) }
        return values
    }

    /// The record must end here: trailing bytes mean it is not what it claims to be.
    func finish() throws(RecordDecodingError) {
        guard remaining == 0 else { throw failure("\(remaining) unexpected trailing bytes") }
    }

    /// Reads the version byte and checks it is one this build knows.
    mutating func version(supported: ClosedRange<UInt8>) throws(RecordDecodingError) -> UInt8 {
        let version = try u8()
        guard supported.contains(version) else { throw failure("unknown record version \(version)") }
        return version
    }
}

/// Decodes a whole record from bytes with `decode`, turning any failure into a typed error.
func decodeRecord<T>(
    _ bytes: UnsafeRawBufferPointer, as record: String, _ decode: (inout ByteReader) throws(RecordDecodingError) -> T
) throws(RecordDecodingError) -> T {
    var reader = ByteReader(bytes, record: record)
    let value = try decode(&reader)
    try reader.finish()
    return value
}

func decodeRecord<T>(
    _ bytes: [UInt8], as record: String, _ decode: (inout ByteReader) throws(RecordDecodingError) -> T
) throws(RecordDecodingError) -> T {
    let result: Result<T, RecordDecodingError> = bytes.withUnsafeBytes { raw in
        do throws(RecordDecodingError) { return .success(try decodeRecord(raw, as: record, decode)) } catch { return .failure(error) }
    }
    return try result.get()
}

import TollgateLMDB
