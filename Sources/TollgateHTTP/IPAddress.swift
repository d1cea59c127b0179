#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import Tollgate

/// An IPv4 or IPv6 address, parsed strictly from text and printed canonically. IPv4-mapped IPv6
/// addresses (`::ffff:192.0.2.1`) are the IPv4 address, so one client has one counter whichever
/// way its address was written.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes.count == 4 }

    /// The longest text form accepted (a full IPv6 address with an embedded IPv4 tail is 45).
    public static let maximumTextLength = 45

    /// Parses `192.0.2.1` or `2001:db8::1` (no brackets, no port, no zone). `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        guard let address = text.utf8.withContiguousStorageIfAvailable({ Self.parse(UnsafeRawBufferPointer($0)) })
            ?? Self.parse(bytes: Array(text.utf8))
        else { return nil }
        self = address
    }

    /// ``init(_:)`` on raw bytes.
    public init?(bytes text: some Collection<UInt8>) {
        guard let address = Self.parse(bytes: text) else { return nil }
        self = address
    }

    /// From 4 or 16 bytes in network order.
    public init?(networkBytes: [UInt8]) {
        switch networkBytes.count {
        case 4: bytes = networkBytes
        case 16:
            let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]
            bytes = networkBytes.starts(with: mapped) ? Array(networkBytes[12...]) : networkBytes
        default: return nil
        }
    }

    private static func parse(bytes text: some Collection<UInt8>) -> IPAddress? {
        guard text.count <= maximumTextLength else { return nil }
        return Array(text).withUnsafeBytes { parse($0) }
    }

    /// Bounded, then handed to `inet_pton` — the C library's strict parser — through a stack
    /// buffer: never an allocation proportional to the input.
    private static func parse(_ text: UnsafeRawBufferPointer) -> IPAddress? {
        guard !text.isEmpty, text.count <= maximumTextLength else { return nil }
        let isIPv6 = text.contains(UInt8(ascii: ":"))
        // inet_pton reads a C string: the text must not hold NUL, and only these characters.
        guard text.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") }) else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: maximumTextLength + 1) { cString in
            for (index, byte) in text.enumerated() { cString[index] = CChar(bitPattern: byte) }
            cString[text.count] = 0
            var storage: [UInt8] = Array(repeating: 0, count: isIPv6 ? 16 : 4)
            let parsed = storage.withUnsafeMutableBytes { inet_pton(isIPv6 ? AF_INET6 : AF_INET, cString.baseAddress!, $0.baseAddress!) }
            guard parsed == 1 else { return nil }
            return IPAddress(networkBytes: storage)
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    public var description: String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let family = isIPv4 ? AF_INET : AF_INET6
            let written = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress!, buffer.baseAddress!, 64) }
            guard written != nil else { return "?" }
            let length = strlen(buffer.baseAddress!)
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress!, count: length), as: UTF8.self)
        }
    }

    /// The address with every bit after the first `prefixLength` cleared.
    public func masked(toPrefix prefixLength: Int) -> IPAddress {
        let bits = max(0, min(prefixLength, bytes.count * 8))
        var masked = bytes
        for index in masked.indices {
            let keep = max(0, min(8, bits - index * 8))
            masked[index] &= keep == 0 ? 0 : ~UInt8(0) << (8 - keep)
        }
        return IPAddress(uncheckedBytes: masked)
    }

    private init(uncheckedBytes: [UInt8]) { bytes = uncheckedBytes }

    /// The value to count a client under: the address itself for IPv4, and for IPv6 its
    /// network of `ipv6PrefixLength` bits (`2001:db8:1:2::/64`) — one subscriber usually holds a
    /// whole /64, so counting single IPv6 addresses lets one client rotate through billions.
    public func subjectValue(ipv6PrefixLength: Int = 64) -> String {
        guard !isIPv4, ipv6PrefixLength < 128 else { return description }
        return "\(masked(toPrefix: ipv6PrefixLength))/\(max(0, ipv6PrefixLength))"
    }
}

/// An IP network in CIDR form, e.g. `10.0.0.0/8` or `fd00::/8`; a bare address is its own /32 or /128.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `ADDRESS[/PREFIX]`; throws ``TollgateError/Code/invalidArgument`` naming the text.
    public init(_ text: String) throws(TollgateError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard text.utf8.count <= IPAddress.maximumTextLength + 4, let address = IPAddress(parts[0]) else {
            throw TollgateError(.invalidArgument, "'\(text.prefix(64))' is not an IP address or CIDR network")
        }
        let maximum = address.bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...maximum).contains(parsed), parts[1].allSatisfy(\.isASCII) else {
                throw TollgateError(.invalidArgument, "'\(text.prefix(64))': the prefix length must be 0 to \(maximum)")
            }
            length = parsed
        }
        self.address = address.masked(toPrefix: length)
        self.prefixLength = length
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        candidate.bytes.count == address.bytes.count && candidate.masked(toPrefix: prefixLength) == address
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
