// Fuzz target `http`: the header inputs the middleware reads, through the byte-level parsers of
// Sources/TollgateHTTP: key extraction (`X-API-Key`, `Authorization: Bearer`), the client
// address through trusted proxies (`Forwarded`, `X-Forwarded-For`), IP addresses and networks.
//
// Input: byte 0 picks the parser (mod 5); the rest is one header value, or several separated by
// 0x00. Properties: nothing traps; an extracted key is visible ASCII of at most the longest key's
// length; hop lists stay within their bound; an address prints and reads back to itself; a
// resolved client is the peer itself when the peer is not trusted, and else an address that the
// peer or a header named.
import Tollgate
import TollgateHTTP

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard let selector = input.first else { return 0 }
    let rest = UnsafeRawBufferPointer(rebasing: input[1...])
    switch selector % 5 {
    case 0: keyHeaders(rest, bearer: false)
    case 1: keyHeaders(rest, bearer: true)
    case 2: hops(ClientAddress.xForwardedForHops(rest))
    case 3: hops(ClientAddress.forwardedHops(rest))
    default:
        if selector & 0x80 == 0 { resolve(rest, forwarded: selector & 0x40 != 0) } else { addresses(rest) }
    }
    return 0
}

/// The values of a multi-valued header: the input split on 0x00 (at most 8).
func values(_ bytes: UnsafeRawBufferPointer) -> [String] {
    bytes.split(separator: 0, maxSplits: 7, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
}

func keyHeaders(_ bytes: UnsafeRawBufferPointer, bearer: Bool) {
    let single = bearer ? PresentedCredential.authorization(bytes) : PresentedCredential.keyHeader(bytes)
    check(single)
    let all = values(bytes)
    let combined = bearer ? PresentedCredential.fromAuthorization(all) : PresentedCredential.fromKeyHeader(all)
    check(combined)
    if all.count == 1, String(validating: bytes, as: UTF8.self) != nil, combined != single {
        fatalError("one header value: \(combined) from the list, \(single) from the bytes")
    }
}

func check(_ credential: PresentedCredential) {
    guard case .key(let key) = credential else { return }
    guard !key.isEmpty, key.utf8.count <= KeyFormat.maximumKeyLength, key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
        fatalError("extracted a key that cannot be one (\(key.utf8.count) bytes)")
    }
    _ = KeyFormat.default.parse(key)
}

func hops(_ hops: [ClientAddress.Hop]?) {
    guard let hops else { return }
    guard hops.count <= ClientAddress.maximumHops else { fatalError("\(hops.count) hops") }
    for case .address(let address) in hops { roundTrip(address) }
}

func roundTrip(_ address: IPAddress) {
    guard IPAddress(address.description) == address else { fatalError("\(address) does not read back") }
    _ = address.subjectValue()
}

/// `peer 0x00 trusted-cidrs(,-separated) 0x00 header values…`
func resolve(_ bytes: UnsafeRawBufferPointer, forwarded: Bool) {
    let parts = values(bytes)
    guard parts.count >= 2 else { return }
    let peer = IPAddress(parts[0])
    let networks = parts[1].split(separator: ",").compactMap { try? IPNetwork(String($0)) }
    // The hop count comes from the CIDR field's length, so every count is reached.
    let trustedHops = 1 + parts[1].count % ClientAddress.maximumHops
    guard let proxies = try? TrustedProxies(
        networks: networks, header: forwarded ? .forwarded(trustedHops: trustedHops) : .xForwardedFor(trustedHops: trustedHops))
    else { fatalError("trusted hops \(trustedHops) refused") }
    let headers = Array(parts.dropFirst(2))
    let client: IPAddress?
    do {
        client = try forwarded
            ? ClientAddress.resolve(peer: peer, forwarded: headers, trusting: proxies)
            : ClientAddress.resolve(peer: peer, xForwardedFor: headers, trusting: proxies)
    } catch {
        // Refusing is only for a trusted peer's header; an untrusted or absent peer always resolves.
        if let peer, !proxies.trusts(peer) { fatalError("an untrusted peer's request was refused") }
        if peer == nil { fatalError("a request without a peer was refused") }
        return
    }
    guard let peer else {
        if client != nil { fatalError("a client without a peer") }
        return
    }
    guard let client else { fatalError("no client for peer \(peer)") }
    if !proxies.trusts(peer) {
        if client != peer { fatalError("an untrusted peer's headers were believed") }
        return
    }
    var named: Set<IPAddress> = [peer]
    for header in headers {
        var header = header
        let hops = header.withUTF8 { forwarded ? ClientAddress.forwardedHops(UnsafeRawBufferPointer($0)) : ClientAddress.xForwardedForHops(UnsafeRawBufferPointer($0)) }
        for case .address(let address) in hops ?? [] { named.insert(address) }
    }
    if !named.contains(client) { fatalError("client \(client) named by nobody") }
}

func addresses(_ bytes: UnsafeRawBufferPointer) {
    if let address = IPAddress(bytes: bytes) {
        roundTrip(address)
        for prefix in [-1, 0, 7, 24, 64, 127, 128, 200] { _ = address.masked(toPrefix: prefix); _ = address.subjectValue(ipv6PrefixLength: prefix) }
    }
    if let network = try? IPNetwork(String(decoding: bytes, as: UTF8.self)) {
        guard network.contains(network.address) else { fatalError("\(network) does not contain its own address") }
        guard (try? IPNetwork(network.description)) == network else { fatalError("\(network) does not read back") }
    }
}
