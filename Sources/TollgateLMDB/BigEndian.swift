/// Integers in keys are big-endian, so LMDB's byte order is their numeric order.
extension FixedWidthInteger {
    /// The integer's bytes, most significant first.
    public var bigEndianBytes: [UInt8] {
        var result = [UInt8]()
        result.appendBigEndian(self)
        return result
    }

    /// Reads a big-endian integer from exactly `MemoryLayout<Self>.size` bytes; `nil` for any other count.
    public init?(bigEndianBytes bytes: some Collection<UInt8>) {
        guard bytes.count == MemoryLayout<Self>.size else { return nil }
        var value: Self = 0
        for byte in bytes { value = value << 8 | Self(truncatingIfNeeded: byte) }
        self = value
    }
}

extension Array where Element == UInt8 {
    /// Appends `value`, most significant byte first.
    // Inlinable: unspecialized across modules, it cost ~3,000 instructions per decision (callgrind).
    @inlinable
    public mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var bigEndian = value.bigEndian
        Swift.withUnsafeBytes(of: &bigEndian) { append(contentsOf: $0) }
    }
}
