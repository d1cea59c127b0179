/// The shape of a Tollgate API key: `PREFIX` + 30 base62 characters of randomness + a 6-character
/// base62 CRC32 of those 30 characters, e.g. `tg_live_4Jx0…Qz09aB`.
///
/// - 30 base62 characters carry 178 bits from the system CSPRNG (at least 160 are required).
/// - The checksum lets ``parse(_:)`` reject typos and junk without hashing or touching the store.
/// - Only letters, digits and `_`: a double-click selects the whole key, and it needs no escaping
///   in URLs, headers or shells.
/// - The prefix makes keys recognisable to people and to secret scanners.
public struct KeyFormat: Sendable, Hashable {
    public static let bodyLength = 30
    public static let checksumLength = 6
    /// The longest a presented key may be before it is rejected without further look.
    public static let maximumKeyLength = 64
    public static let maximumPrefixLength = maximumKeyLength - bodyLength - checksumLength

    /// Letters, digits and `_`, 1 to 28 characters, e.g. `tg_live_`.
    public let prefix: String
    private let prefixBytes: [UInt8]

    public static let `default` = try! KeyFormat(prefix: "tg_live_")

    /// Throws ``TollgateError/Code/invalidArgument`` for an empty or too long prefix or one with
    /// characters other than ASCII letters, digits and `_`.
    public init(prefix: String) throws(TollgateError) {
        let bytes = Array(prefix.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maximumPrefixLength else {
            throw TollgateError(.invalidArgument, "a key prefix has 1 to \(Self.maximumPrefixLength) characters")
        }
        guard bytes.allSatisfy({ Base62.isDigit($0) || $0 == UInt8(ascii: "_") }) else {
            throw TollgateError(.invalidArgument, "a key prefix may only hold ASCII letters, digits and '_'")
        }
        self.prefix = prefix
        self.prefixBytes = bytes
    }

    /// The length of every key of this format.
    public var keyLength: Int { prefixBytes.count + Self.bodyLength + Self.checksumLength }

    /// A new key from the system's cryptographically secure generator.
    public func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// A new key from `generator` (tests pass a seeded one; production must not).
    public func generate(using generator: inout some RandomNumberGenerator) -> String {
        var bytes = prefixBytes
        bytes.reserveCapacity(keyLength)
        let bodyStart = bytes.count
        Base62.appendRandomDigits(Self.bodyLength, to: &bytes, using: &generator)
        let checksum = CRC32.checksum(bytes[bodyStart...])
        bytes.append(contentsOf: Base62.encode(checksum, width: Self.checksumLength))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Why a presented key was rejected before any lookup. Says nothing of the key itself.
    public enum Rejection: String, Sendable, Hashable {
        case empty, tooLong, wrongPrefix, wrongLength, invalidCharacter, badChecksum
    }

    /// Checks a presented key's shape and checksum. Costs no hashing and no store access.
    public func parse(_ presented: String) -> Rejection? {
        if presented.utf8.count > Self.maximumKeyLength { return .tooLong }
        var presented = presented
        return presented.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// ``parse(_:)`` on raw bytes (the fuzz target's entry point).
    public func parse(_ bytes: UnsafeRawBufferPointer) -> Rejection? {
        if bytes.isEmpty { return .empty }
        if bytes.count > Self.maximumKeyLength { return .tooLong }
        guard bytes.count >= prefixBytes.count, bytes.prefix(prefixBytes.count).elementsEqual(prefixBytes) else {
            return .wrongPrefix
        }
        guard bytes.count == keyLength else { return .wrongLength }
        let body = bytes[prefixBytes.count..<prefixBytes.count + Self.bodyLength]
        let checksum = bytes[(prefixBytes.count + Self.bodyLength)...]
        guard body.allSatisfy(Base62.isDigit), checksum.allSatisfy(Base62.isDigit) else { return .invalidCharacter }
        guard let stated = Base62.decode(checksum), stated == UInt64(CRC32.checksum(body)) else { return .badChecksum }
        return nil
    }

    /// What people may see of a key: the prefix and the first 4 characters of its body.
    public func displayPrefix(of key: String) -> String {
        String(decoding: key.utf8.prefix(prefixBytes.count + 4), as: UTF8.self) + "…"
    }
}

/// Base62 with the alphabet `0-9A-Za-z`.
enum Base62 {
    static let digits: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// Appends `count` uniformly random digits. Rejection sampling keeps every digit equally
    /// likely: bytes of 248 and above (248 = 4 × 62) are drawn again.
    static func appendRandomDigits(_ count: Int, to bytes: inout [UInt8], using generator: inout some RandomNumberGenerator) {
        var added = 0
        while added < count {
            let random = UInt8.random(in: 0...255, using: &generator)
            if random < 248 {
                bytes.append(digits[Int(random % 62)])
                added += 1
            }
        }
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    static func value(of byte: UInt8) -> UInt64? {
        switch byte {
        case 0x30...0x39: UInt64(byte - 0x30)
        case 0x41...0x5A: UInt64(byte - 0x41 + 10)
        case 0x61...0x7A: UInt64(byte - 0x61 + 36)
        default: nil
        }
    }

    /// `value` as exactly `width` digits, zero-padded on the left.
    static func encode(_ value: UInt32, width: Int) -> [UInt8] {
        var result = [UInt8](repeating: digits[0], count: width)
        var rest = UInt64(value)
        for index in stride(from: width - 1, through: 0, by: -1) {
            result[index] = digits[Int(rest % 62)]
            rest /= 62
        }
        return result
    }

    /// Up to 10 digits back to a number; `nil` on a non-digit or overflow.
    static func decode(_ digits: some Collection<UInt8>) -> UInt64? {
        guard digits.count <= 10 else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard let digit = Base62.value(of: byte) else { return nil }
            value = value * 62 + digit
        }
        return value
    }
}

/// CRC-32 (IEEE 802.3, the polynomial zlib and GitHub's token checksums use).
/// Twenty lines here rather than a dependency for a 36-byte input.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
        return crc
    }

    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
