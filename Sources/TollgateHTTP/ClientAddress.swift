public import Tollgate

/// The proxies whose forwarding header is believed, and which header that is. Empty by default:
/// then the client is the connection's peer and forwarding headers are ignored (any client can
/// send them, so believing them from anyone lets every request pick its own rate-limit bucket).
///
/// The header is a setting, never a guess: most proxies (nginx `$proxy_add_x_forwarded_for`, AWS
/// ALB, HAProxy `forwardfor`) append only to `X-Forwarded-For` and pass a client's own `Forwarded`
/// through untouched, so believing whichever header is present would let the client choose.
public struct TrustedProxies: Sendable, Hashable {
    public var networks: [IPNetwork]
    public let header: ForwardingHeader

    /// The one header the trusted proxies write, and how many entries at its right end they
    /// append (one per proxy in front of the server that appends to it).
    public enum ForwardingHeader: Sendable, Hashable {
        /// Believe no header: the client is the peer even when the peer is trusted.
        case none
        case xForwardedFor(trustedHops: Int)
        /// RFC 7239 `Forwarded`, its `for=` parameters.
        case forwarded(trustedHops: Int)

        var trustedHops: Int {
            switch self {
            case .none: 0
            case .xForwardedFor(let hops), .forwarded(let hops): hops
            }
        }
    }

    /// Trust nobody: the client is always the connection's peer.
    public static let none = TrustedProxies(validated: [], header: .none)

    /// - Throws: ``TollgateError/Code/invalidArgument`` when `trustedHops` is outside
    ///   1...``ClientAddress/maximumHops``.
    public init(networks: [IPNetwork], header: ForwardingHeader) throws(TollgateError) {
        if case .none = header {} else {
            guard (1...ClientAddress.maximumHops).contains(header.trustedHops) else {
                throw TollgateError(
                    .invalidArgument, "trusted hops must be between 1 and \(ClientAddress.maximumHops), not \(header.trustedHops)")
            }
        }
        self.init(validated: networks, header: header)
    }

    /// From CIDR texts such as `["10.0.0.0/8", "127.0.0.1"]`.
    public init(_ cidrs: [String], header: ForwardingHeader) throws(TollgateError) {
        var networks: [IPNetwork] = []
        for cidr in cidrs { networks.append(try IPNetwork(cidr)) }
        try self.init(networks: networks, header: header)
    }

    private init(validated networks: [IPNetwork], header: ForwardingHeader) {
        self.networks = networks
        self.header = header
    }

    public func trusts(_ address: IPAddress) -> Bool { networks.contains { $0.contains(address) } }
}

/// Resolves the client's address from the connection's peer and, only when the peer is a trusted
/// proxy, the configured forwarding header.
///
/// The walk goes right to left through the entries the trusted proxies appended (RFC 7239 §7.4),
/// at most ``TrustedProxies/ForwardingHeader`` `trustedHops` of them: the first that is not a
/// trusted address is the client; when all are trusted, the last one looked at is. Entries further
/// left were written by the client and are never looked at, so a client can add entries but never
/// choose the address it is counted under. What cannot be resolved — a header over the size bound,
/// one that breaks its grammar, an unidentified entry (`unknown`, `_hidden`, junk) where a trusted
/// proxy should have written an address — throws ``UnresolvableClient``: counting such a request
/// as the proxy would put every such client in one shared bucket.
public enum ClientAddress {
    /// Forwarding header values (all lines together) longer than this are refused.
    public static let maximumHeaderBytes = 8_192
    /// At most this many entries are kept, from the right (and at most this many trusted hops).
    public static let maximumHops = 32

    /// Why a client address could not be resolved. Never carries the header's text.
    public struct UnresolvableClient: Error, Sendable, Hashable {
        public enum Reason: String, Sendable, Hashable {
            /// The header's values are over ``ClientAddress/maximumHeaderBytes``.
            case tooLong
            /// The header does not follow its grammar.
            case malformed
            /// An entry a trusted proxy appended is not an address.
            case unidentifiedHop
        }
        public var reason: Reason
        public init(_ reason: Reason) { self.reason = reason }
    }

    /// - Parameters:
    ///   - peer: the connection's remote address (`nil` on a Unix socket or in tests).
    ///   - forwarded: every `Forwarded` header value, in order; read only with `.forwarded`.
    ///   - xForwardedFor: every `X-Forwarded-For` value, in order; read only with `.xForwardedFor`.
    public static func resolve(
        peer: IPAddress?, forwarded: [String] = [], xForwardedFor: [String] = [], trusting proxies: TrustedProxies
    ) throws(UnresolvableClient) -> IPAddress? {
        guard let peer else { return nil }
        guard proxies.trusts(peer) else { return peer }
        let hops: [Hop]
        switch proxies.header {
        case .none:
            return peer
        case .xForwardedFor:
            hops = try parseChain(xForwardedFor) { Self.xForwardedForHops(UnsafeRawBufferPointer($0)) }
        case .forwarded:
            hops = try parseChain(forwarded) { Self.forwardedHops(UnsafeRawBufferPointer($0)) }
        }
        var client = peer
        for hop in hops.reversed().prefix(proxies.header.trustedHops) {
            guard case .address(let address) = hop else { throw UnresolvableClient(.unidentifiedHop) }
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

    private static func parseChain(
        _ values: [String], _ parse: (UnsafeBufferPointer<UInt8>) -> [Hop]?
    ) throws(UnresolvableClient) -> [Hop] {
        var all: [Hop] = []
        var total = 0
        for value in values {
            total += value.utf8.count
            guard total <= maximumHeaderBytes else { throw UnresolvableClient(.tooLong) }
            var value = value
            guard let hops = value.withUTF8(parse) else { throw UnresolvableClient(.malformed) }
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
