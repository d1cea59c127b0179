// Fuzz target `records`: every decoder of a stored record, as `dump`, `check` and the engine
// run them on bytes read back from disk (which may be damaged or hostile).
//
// Input: byte 0 picks the table (meta, tiers, keys, counters, usage, audit; 6 and 7: the meta
// format-version peek and a counter key alone), byte 1 (mod 64) is the length of the table key
// that follows, the rest is the record's value. Properties: nothing traps; what decodes renders
// as a dump line, and encodes back to bytes that decode to an equal record (counter keys: to the
// same bytes).
@testable import Tollgate

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecords(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard input.count >= 2 else { return 0 }
    let keyLength = min(Int(input[1] % 64), input.count - 2)
    let key = UnsafeRawBufferPointer(rebasing: input[2..<2 + keyLength])
    let value = UnsafeRawBufferPointer(rebasing: input[(2 + keyLength)...])
    let selector = input[0] % 8
    if selector < 6 {
        let table = DumpTable.allCases[Int(selector)]
        if let record = try? DumpRecord.decode(table: table, key: key, value: value, now: Timestamp(seconds: 1_767_225_600)) {
            _ = record.jsonLine
            _ = record.textLine
        }
    }
    switch selector {
    case 0: roundTrip(value, StoreMeta.decode) { $0.encoded() }
    case 1: roundTrip(value, Tier.decode) { $0.encoded() }
    case 2: roundTrip(value, StoredKey.decode) { $0.encoded() }
    case 3:
        counterKeyRoundTrip(key)
        roundTrip(value, StoredCounter.decode) { $0.encoded() }
    case 4: roundTrip(value, { (bytes) throws(RecordDecodingError) in try DailyUsage.decode(bytes, day: 0) }) { $0.encoded() }
    case 5: roundTrip(value, AuditEvent.decode) { $0.encoded() }
    case 6: _ = try? StoreMeta.formatVersion(of: value)
    default: counterKeyRoundTrip(value)
    }
    return 0
}

/// Decodes `bytes`; if that works, encodes the record and decodes it again: it must be equal.
func roundTrip<T: Equatable>(
    _ bytes: UnsafeRawBufferPointer, _ decode: (UnsafeRawBufferPointer) throws(RecordDecodingError) -> T, _ encode: (T) -> [UInt8]
) {
    guard let record = try? decode(bytes) else { return }
    let encoded = encode(record)
    let again = encoded.withUnsafeBytes { raw in Result { () throws(RecordDecodingError) in try decode(raw) } }
    switch again {
    case .success(let decoded): if decoded != record { fatalError("\(T.self) changed in a round trip: \(record) → \(decoded)") }
    case .failure(let error): fatalError("\(T.self) encoded by us does not decode: \(error)")
    }
}

func counterKeyRoundTrip(_ key: UnsafeRawBufferPointer) {
    guard let (subject, limit) = try? CounterSubject.parse(key) else { return }
    _ = subject.description
    if subject.tableKey(limit: limit) != Array(key) { fatalError("counter key \(Array(key)) does not round-trip") }
}
