/// The proxies whose `Forwarded` / `X-Forwarded-For` headers are believed. Empty by default:
/// then the client is the connection's peer and those headers are ignored (any client can send
/// them, so believing them from anyone lets every request pick its own rate-limit bucket).
public struct TrustedProxies: Sendable, Hashable {
    public var networks: [IPNetwork]

    /// Trust nobody: the client address is always the connection's peer.
    public static let none = TrustedProxies(networks: [])

    public init(networks: [IPNetwork]) { self.networks = networks }

    /// From CIDR texts such as `["10.0.0.0/8", "127.0.0.1"]`.
    public init(_ cidrs: [String]) throws(TollgateError) {
        var networks: [IPNetwork] = []
        for cidr in cidrs { networks.append(try IPNetwork(cidr)) }
        self.networks = networks
    }

    public func trusts(_ address: IPAddress) -> Bool { networks.contains { $0.contains(address) } }
}

/// Resolves the client's address from the connection's peer and, only when the peer is a trusted
/// proxy, the forwarding headers.
///
/// The walk goes right to left through the hops the proxies appended (RFC 7239 §7.4): each hop
/// that is a trusted proxy is skipped, the first one that is not is the client. A hop that does
/// not parse (`unknown`, an obfuscated name, junk) ends the walk at the last address a trusted
/// proxy vouched for — so a malicious client can add entries on the left but never choose the
/// address it is counted under.
public enum ClientAddress {
    /// Header values longer than this are not parsed: the client is then the last trusted hop.
    public static let maximumHeaderBytes = 8_192
    /// At most this many hops are looked at, from the right.
    public static let maximumHops = 32

    /// - Parameters:
    ///   - peer: the connection's remote address (`nil` on a Unix socket or in tests).
    ///   - forwarded: every `Forwarded` header value, in order; preferred when present.
    ///   - xForwardedFor: every `X-Forwarded-For` value, in order; used when no `Forwarded` is.
    public static func resolve(
        peer: IPAddress?, forwarded: [String] = [], xForwardedFor: [String] = [], trusting proxies: TrustedProxies
    ) -> IPAddress? {
        guard let peer else { return nil }
        guard proxies.trusts(peer) else { return peer }
        let hops: [Hop]?
        if !forwarded.isEmpty {
            hops = parseChain(forwarded) { Self.forwardedHops(UnsafeRawBufferPointer($0)) }
        } else if !xForwardedFor.isEmpty {
            hops = parseChain(xForwardedFor) { Self.xForwardedForHops(UnsafeRawBufferPointer($0)) }
        } else {
            return peer
        }
        guard let hops else { return peer }
        var client = peer
        for hop in hops.reversed() {
            guard case .address(let address) = hop else { return client }
            client = address
            if !proxies.trusts(address) { return address }
        }
        return client
    }

    /// One entry of a forwarding chain.
    public enum Hop: Sendable, Hashable {
        case address(IPAddress)
        /// `unknown`, an obfuscated identifier (`_hidden`) or text that is not an address.
        case unidentified
    }

    /// The hops of one `X-Forwarded-For` value (`203.0.113.7, 10.0.0.2`); ports and IPv6
    /// brackets are accepted and dropped. `nil` when the value is over the bounds.
    public static func xForwardedForHops(_ value: UnsafeRawBufferPointer) -> [Hop]? {
        guard value.count <= maximumHeaderBytes else { return nil }
        var hops: [Hop] = []
        for element in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let node = HTTPSyntax.trimmed(element)
            // Empty list elements (`a, , b`) are not hops (RFC 9110 §5.6.1).
            if !node.isEmpty { hops.append(hop(nodeText: node)) }
        }
        return hops.count <= maximumHops ? hops : Array(hops.suffix(maximumHops))
    }

    /// The `for=` hops of one `Forwarded` value (RFC 7239: `for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"`).
    /// An element without `for=` is an unidentified hop. `nil` when the value is over the bounds
    /// or does not follow the grammar (an unterminated quote, a parameter without `=`).
    public static func forwardedHops(_ value: UnsafeRawBufferPointer) -> [Hop]? {
        guard value.count <= maximumHeaderBytes else { return nil }
        var hops: [Hop] = []
        var index = value.startIndex
        var current: Hop?
        var sawFor = false
        var sawParameter = false
        func endElement() {
            // Empty list elements (`a, , b`) are not hops (RFC 9110 §5.6.1).
            if sawParameter { hops.append(current ?? .unidentified) }
            current = nil
            sawFor = false
            sawParameter = false
        }
        while true {
            skipWhitespace(value, &index)
            // name
            let nameStart = index
            while index < value.endIndex, HTTPSyntax.isTokenCharacter(value[index]) { index += 1 }
            let name = value[nameStart..<index]
            skipWhitespace(value, &index)
            if name.isEmpty {
                // An empty element (`a, , b`) is allowed by the list syntax; anything else is not.
                guard index == value.endIndex || value[index] == UInt8(ascii: ",") else { return nil }
            } else {
                guard index < value.endIndex, value[index] == UInt8(ascii: "=") else { return nil }
                sawParameter = true
                index += 1
                skipWhitespace(value, &index)
                let parsedValue: Slice<UnsafeRawBufferPointer>
                var unescaped: [UInt8]?
                if index < value.endIndex, value[index] == UInt8(ascii: "\"") {
                    index += 1
                    let start = index
                    var escaped: [UInt8] = []
                    var hadEscape = false
                    while index < value.endIndex, value[index] != UInt8(ascii: "\"") {
                        if value[index] == UInt8(ascii: "\\") {
                            hadEscape = true
                            index += 1
                            guard index < value.endIndex else { return nil }
                        }
                        escaped.append(value[index])
                        index += 1
                    }
                    guard index < value.endIndex else { return nil }
                    parsedValue = value[start..<index]
                    if hadEscape { unescaped = escaped }
                    index += 1
                } else {
                    let start = index
                    while index < value.endIndex, HTTPSyntax.isTokenCharacter(value[index]) { index += 1 }
                    parsedValue = value[start..<index]
                }
                if name.count == 3, HTTPSyntax.asciiLowercased(name).elementsEqual("for".utf8) {
                    guard !sawFor else { return nil }  // one `for` per element
                    sawFor = true
                    current = unescaped.map { hop(nodeText: $0[...]) } ?? hop(nodeText: parsedValue)
                }
                skipWhitespace(value, &index)
            }
            guard index < value.endIndex else {
                endElement()
                break
            }
            switch value[index] {
            case UInt8(ascii: ";"): index += 1
            case UInt8(ascii: ","):
                index += 1
                endElement()
            default: return nil
            }
        }
        return hops.count <= maximumHops ? hops : Array(hops.suffix(maximumHops))
    }

    private static func parseChain(_ values: [String], _ parse: (UnsafeBufferPointer<UInt8>) -> [Hop]?) -> [Hop]? {
        var all: [Hop] = []
        var total = 0
        for value in values {
            total += value.utf8.count
            guard total <= maximumHeaderBytes else { return nil }
            var value = value
            guard let hops = value.withUTF8(parse) else { return nil }
            all += hops
        }
        return all.count <= maximumHops ? all : Array(all.suffix(maximumHops))
    }

    /// `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]`, `[2001:db8::1]:443` or a bare IPv6 address.
    private static func hop<C: Collection<UInt8>>(nodeText text: C) -> Hop {
        let bytes = Array(text)
        guard !bytes.isEmpty, bytes.count <= IPAddress.maximumTextLength + 8 else { return .unidentified }
        var host = bytes[...]
        if host.first == UInt8(ascii: "[") {
            guard let close = host.firstIndex(of: UInt8(ascii: "]")) else { return .unidentified }
            let rest = host[(close + 1)...]
            guard rest.isEmpty || isPort(rest) else { return .unidentified }
            host = host[(host.startIndex + 1)..<close]
            guard host.contains(UInt8(ascii: ":")) else { return .unidentified }
        } else if let colon = host.firstIndex(of: UInt8(ascii: ":")), host.lastIndex(of: UInt8(ascii: ":")) == colon {
            // One colon: IPv4 with a port.
            guard isPort(host[colon...]) else { return .unidentified }
            host = host[..<colon]
        }
        return IPAddress(bytes: host).map(Hop.address) ?? .unidentified
    }

    /// `:` and a port: digits, or an obfuscated port (`_abc`, RFC 7239 §6.3) — dropped either way.
    private static func isPort(_ text: ArraySlice<UInt8>) -> Bool {
        guard text.first == UInt8(ascii: ":") else { return false }
        let rest = text.dropFirst()
        return !rest.isEmpty && rest.count <= 16 && rest.allSatisfy { $0 != UInt8(ascii: ":") && HTTPSyntax.isTokenCharacter($0) }
    }

    private static func skipWhitespace(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) {
        while index < bytes.endIndex, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
    }
}
