import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Remembers decoded records next to the bytes they were decoded from, so the hot path decodes a
/// key record or a tier only when its stored bytes changed. The stored bytes are always read and
/// compared, so the cache can never serve a stale value — it only skips the decoding.
final class DecodedRecordCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var bytes: [UInt8]
        var value: Value
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The value decoded from `bytes`, from the cache when the bytes match.
    func value(for key: Key, bytes: UnsafeRawBufferPointer, decode: (UnsafeRawBufferPointer) throws -> Value) throws -> Value {
        let cached: Value? = entries.withLock { entries in
            guard let entry = entries[key], entry.bytes.count == bytes.count else { return nil }
            let equal = entry.bytes.withUnsafeBytes { stored in
                bytes.isEmpty || memcmp(stored.baseAddress!, bytes.baseAddress!, bytes.count) == 0
            }
            return equal ? entry.value : nil
        }
        if let cached { return cached }
        let value = try decode(bytes)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(bytes: Array(bytes), value: value)
        }
        return value
    }
}
