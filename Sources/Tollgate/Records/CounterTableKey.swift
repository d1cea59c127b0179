// The LMDB layout of a counter's key: the `counters` table keys a counter by its subject, then its
// name, so one subject's counters are one contiguous range (reset and dump seek it).

extension CounterSubject {
    /// `kind (1) · subject · 0x00 · limit name`. The subject's bytes never hold 0x00
    /// (validated), so one subject's counters are one contiguous key range.
    func tableKey(limit: String) -> [UInt8] {
        var bytes = prefix
        bytes.append(contentsOf: limit.utf8)
        return bytes
    }

    /// Every counter of this subject starts with these bytes.
    var prefix: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(48)
        switch self {
        case .key(let id):
            bytes.append(1)
            bytes.append(contentsOf: id.utf8)
        case .owner(let owner):
            bytes.append(2)
            bytes.append(contentsOf: owner.utf8)
        case .custom(let name, let value):
            bytes.append(3)
            bytes.append(contentsOf: name.utf8)
            bytes.append(0x3D) // "=": names cannot hold it
            bytes.append(contentsOf: value.utf8)
        case .global:
            bytes.append(4)
        }
        bytes.append(0)
        return bytes
    }

    /// Splits a counter's table key back into subject and limit name.
    static func parse(_ key: UnsafeRawBufferPointer) throws(RecordDecodingError) -> (subject: CounterSubject, limit: String) {
        let failure = RecordDecodingError(record: "counter key", reason: "malformed")
        guard let kind = key.first, let separator = key.dropFirst().firstIndex(of: 0) else { throw failure }
        let subjectBytes = key[1..<separator]
        guard let subject = String(validating: subjectBytes, as: UTF8.self),
              let limit = String(validating: key[(separator + 1)...], as: UTF8.self), !limit.isEmpty
        else { throw failure }
        switch kind {
        case 1: return (.key(id: subject), limit)
        case 2: return (.owner(subject), limit)
        case 3:
            // Split on the first "=" byte: names cannot hold one, values may start with anything
            // (a combining mark would fuse with a Character-level "=").
            guard let equals = subjectBytes.firstIndex(of: 0x3D),
                  let name = String(validating: subjectBytes[..<equals], as: UTF8.self),
                  let value = String(validating: subjectBytes[(equals + 1)...], as: UTF8.self)
            else { throw failure }
            return (.custom(name: name, value: value), limit)
        case 4:
            guard subject.isEmpty else { throw failure }
            return (.global, limit)
        default: throw failure
        }
    }
}

extension CounterID {
    /// This counter's key in the `counters` table.
    var tableKey: [UInt8] { subject.tableKey(limit: name) }
}
