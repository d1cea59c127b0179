import Testing
import Tollgate
import TollgateHTTP

@Suite("HTTP input parsing")
struct HTTPParsingTests {
    // MARK: IP addresses

    @Test("IP addresses parse strictly and print canonically", arguments: [
        ("192.0.2.1", "192.0.2.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
        ("2001:db8::1", "2001:db8::1"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("::1", "::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
    ])
    func ipAddresses(text: String, canonical: String) {
        #expect(IPAddress(text)?.description == canonical)
    }

    @Test("Not addresses", arguments: [
        "", "256.0.0.1", "1.2.3", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ", "01.2.3.4x", "unknown", "_hidden",
        "[::1]", "2001:db8::1%eth0", "1.2.3.4\u{0}", String(repeating: "1", count: 100), "::g", "1::2::3",
    ])
    func notAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("CIDR networks contain what they should")
    func networks() throws {
        let ten = try IPNetwork("10.0.0.0/8")
        #expect(ten.contains(IPAddress("10.255.1.2")!))
        #expect(!ten.contains(IPAddress("11.0.0.1")!))
        #expect(!ten.contains(IPAddress("::1")!))
        let host = try IPNetwork("127.0.0.1")
        #expect(host.prefixLength == 32 && host.contains(IPAddress("127.0.0.1")!) && !host.contains(IPAddress("127.0.0.2")!))
        let v6 = try IPNetwork("fd00::/8")
        #expect(v6.contains(IPAddress("fd12:3456::1")!) && !v6.contains(IPAddress("fe80::1")!))
        #expect(try IPNetwork("10.1.2.3/16").description == "10.1.0.0/16")
        #expect(try IPNetwork("0.0.0.0/0").contains(IPAddress("203.0.113.9")!))
        for bad in ["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "nonsense/8", "::/129", "10.0.0.0/8/8", "10.0.0.0/٣"] {
            let error = #expect(throws: TollgateError.self) { try IPNetwork(bad) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test("IPv6 clients are counted per /64 by default")
    func ipv6Subjects() {
        #expect(IPAddress("2001:db8:1:2:aaaa::1")!.subjectValue() == "2001:db8:1:2::/64")
        #expect(IPAddress("2001:db8:1:2:bbbb::9")!.subjectValue() == "2001:db8:1:2::/64")
        #expect(IPAddress("2001:db8:1:2:bbbb::9")!.subjectValue(ipv6PrefixLength: 128) == "2001:db8:1:2:bbbb::9")
        #expect(IPAddress("203.0.113.7")!.subjectValue() == "203.0.113.7")
    }

    // MARK: Client address

    let proxies = try! TrustedProxies(["10.0.0.0/8", "fd00::/8"], header: .xForwardedFor(trustedHops: 1))
    let twoProxies = try! TrustedProxies(["10.0.0.0/8", "fd00::/8"], header: .xForwardedFor(trustedHops: 2))
    let forwardedProxies = try! TrustedProxies(["10.0.0.0/8", "fd00::/8"], header: .forwarded(trustedHops: 1))
    let proxy = IPAddress("10.0.0.2")!

    func unresolvable(
        _ reason: ClientAddress.UnresolvableClient.Reason, forwarded: [String] = [], xForwardedFor: [String] = [],
        trusting proxies: TrustedProxies, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(throws: ClientAddress.UnresolvableClient(reason), sourceLocation: sourceLocation) {
            try ClientAddress.resolve(peer: proxy, forwarded: forwarded, xForwardedFor: xForwardedFor, trusting: proxies)
        }
    }

    @Test("Without trusted proxies the forwarding headers are ignored")
    func untrusted() throws {
        let peer = IPAddress("198.51.100.4")!
        #expect(try ClientAddress.resolve(peer: peer, xForwardedFor: ["1.1.1.1"], trusting: .none) == peer)
        #expect(try ClientAddress.resolve(peer: peer, forwarded: ["for=1.1.1.1"], trusting: .none) == peer)
        // A peer outside the trusted networks is not believed either, nor refused for its headers.
        #expect(try ClientAddress.resolve(peer: peer, xForwardedFor: ["1.1.1.1"], trusting: proxies) == peer)
        #expect(try ClientAddress.resolve(peer: peer, xForwardedFor: ["garbage"], trusting: proxies) == peer)
        #expect(try ClientAddress.resolve(peer: nil, xForwardedFor: ["1.1.1.1"], trusting: proxies) == nil)
        // A trusted peer with the header set to `.none`: the peer.
        let noHeader = try TrustedProxies(["10.0.0.0/8"], header: .none)
        #expect(try ClientAddress.resolve(peer: proxy, forwarded: ["for=1.1.1.1"], xForwardedFor: ["1.1.1.1"], trusting: noHeader) == proxy)
    }

    @Test("Only the configured header is believed, never whichever one the client sent")
    func onlyTheConfiguredHeader() throws {
        // Issue 12 item 1: nginx/ALB/HAProxy append to X-Forwarded-For and pass a client's own
        // Forwarded through; believing Forwarded when present let the client pick its address.
        let peer = IPAddress("10.0.0.1")!
        let both = (forwarded: ["for=203.0.113.99"], xff: ["198.51.100.7"])
        #expect(try ClientAddress.resolve(peer: peer, forwarded: both.forwarded, xForwardedFor: both.xff, trusting: proxies)
            == IPAddress("198.51.100.7"))
        #expect(try ClientAddress.resolve(peer: peer, forwarded: both.forwarded, xForwardedFor: both.xff, trusting: forwardedProxies)
            == IPAddress("203.0.113.99"))
        // The other header alone is not a fallback.
        #expect(try ClientAddress.resolve(peer: peer, forwarded: both.forwarded, trusting: proxies) == peer)
    }

    @Test("Through trusted proxies the client is found within the trusted hops")
    func trusted() throws {
        let client = IPAddress("203.0.113.7")!
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: ["203.0.113.7"], trusting: proxies) == client)
        // A client that sends its own X-Forwarded-For only adds entries on the left, never looked at.
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: ["6.6.6.6, 203.0.113.7"], trusting: proxies) == client)
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: ["garbage, unknown, 203.0.113.7"], trusting: proxies) == client)
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: ["6.6.6.6", "203.0.113.7, 10.1.1.1"], trusting: twoProxies) == client)
        // With one trusted hop, a trusted address in it is as far as the walk goes.
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: ["203.0.113.7, 10.1.1.1"], trusting: proxies) == IPAddress("10.1.1.1"))
        // Ports and brackets are dropped.
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: ["203.0.113.7:5555"], trusting: proxies) == client)
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: ["203.0.113.7, ,10.0.0.5,"], trusting: twoProxies) == client)
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: ["[2001:db8::7]:443"], trusting: proxies) == IPAddress("2001:db8::7"))
        // Nothing forwarded: the proxy itself.
        #expect(try ClientAddress.resolve(peer: proxy, trusting: proxies) == proxy)
        // Only trusted hops, fewer than configured: the leftmost.
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: ["10.9.9.9, 10.8.8.8"], trusting: twoProxies) == IPAddress("10.9.9.9"))
    }

    @Test("An unresolvable chain is an error, never the proxy's address")
    func unresolvableChains() throws {
        unresolvable(.unidentifiedHop, xForwardedFor: ["203.0.113.7, garbage"], trusting: proxies)
        unresolvable(.unidentifiedHop, xForwardedFor: ["203.0.113.7, unknown, 10.3.3.3"], trusting: twoProxies)
        unresolvable(.unidentifiedHop, forwarded: ["for=unknown"], trusting: forwardedProxies)
        unresolvable(.unidentifiedHop, forwarded: ["for=\"_hidden\""], trusting: forwardedProxies)
        unresolvable(.unidentifiedHop, forwarded: ["proto=https"], trusting: forwardedProxies)
        // Over the size bound (one value, or several together): refused, not counted as the proxy.
        let huge = Array(repeating: "1.2.3.4", count: 2_000).joined(separator: ",")
        unresolvable(.tooLong, xForwardedFor: [huge], trusting: proxies)
        let half = String(repeating: "1.2.3.4,", count: 600)
        unresolvable(.tooLong, xForwardedFor: [half, half], trusting: proxies)
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: [half + "203.0.113.7"], trusting: proxies) == IPAddress("203.0.113.7"))
        // Grammar errors.
        for broken in ["for=\"192.0.2.60", "for", "for=1.2.3.4 x", "for=1.2.3.4;for=5.6.7.8", "=1.2.3.4", "for=1.2.3.4;;"] {
            unresolvable(.malformed, forwarded: [broken], trusting: forwardedProxies)
        }
    }

    @Test("Chains keep at most 32 hops, from the right; trusted hops are 1 to 32")
    func hopBound() throws {
        #expect(ClientAddress.maximumHops == 32)
        let addresses = (1...40).map { "10.0.0.\($0)" }
        let chain = addresses.joined(separator: ", ")
        var text = chain
        let hops = text.withUTF8 { ClientAddress.xForwardedForHops(UnsafeRawBufferPointer($0)) }
        #expect(hops == addresses.suffix(32).map { ClientAddress.Hop.address(IPAddress($0)!) })
        var forwardedText = addresses.map { "for=\($0)" }.joined(separator: ", ")
        let forwardedHops = forwardedText.withUTF8 { ClientAddress.forwardedHops(UnsafeRawBufferPointer($0)) }
        #expect(forwardedHops?.count == 32)
        // Over several header lines too; 32 trusted hops through 40 trusted entries end at the 32nd from the right.
        let thirtyTwo = try TrustedProxies(["10.0.0.0/8"], header: .xForwardedFor(trustedHops: 32))
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: addresses.map { $0 }, trusting: thirtyTwo) == IPAddress("10.0.0.9"))
        #expect(try ClientAddress.resolve(peer: proxy, xForwardedFor: ["203.0.113.7", chain], trusting: thirtyTwo) == IPAddress("10.0.0.9"))
        for hops in [0, -1, 33, Int.max] {
            #expect((#expect(throws: TollgateError.self) { try TrustedProxies(["10.0.0.0/8"], header: .xForwardedFor(trustedHops: hops)) })?.code == .invalidArgument)
            #expect((#expect(throws: TollgateError.self) { try TrustedProxies(networks: [], header: .forwarded(trustedHops: hops)) })?.code == .invalidArgument)
        }
        #expect(throws: Never.self) { try TrustedProxies(["10.0.0.0/8"], header: .forwarded(trustedHops: 32)) }
    }

    @Test("Forwarded (RFC 7239) is parsed by its grammar")
    func forwarded() throws {
        let client = IPAddress("192.0.2.60")!
        let proxies = forwardedProxies
        #expect(try ClientAddress.resolve(peer: proxy, forwarded: ["for=192.0.2.60;proto=http;by=203.0.113.43"], trusting: proxies) == client)
        #expect(try ClientAddress.resolve(peer: proxy, forwarded: ["For=\"192.0.2.60:8080\""], trusting: proxies) == client)
        #expect(try ClientAddress.resolve(peer: proxy, forwarded: ["for=\"[2001:db8:cafe::17]:4711\""], trusting: proxies) == IPAddress("2001:db8:cafe::17"))
        let two = try TrustedProxies(["10.0.0.0/8"], header: .forwarded(trustedHops: 2))
        #expect(try ClientAddress.resolve(
            peer: proxy, forwarded: ["for=6.6.6.6, for=192.0.2.60", "for=10.0.0.9;proto=https"], xForwardedFor: ["7.7.7.7"], trusting: two)
            == client)
        // A quoted value with an escape.
        #expect(try ClientAddress.resolve(peer: proxy, forwarded: ["for=\"192.0.2.\\60\""], trusting: proxies) == client)
        #expect(try ClientAddress.resolve(peer: proxy, forwarded: ["for=192.0.2.60 , ,for=10.0.0.1"], trusting: two) == client)
    }

    // MARK: Key extraction

    @Test("Key headers and bearer tokens")
    func credentials() {
        #expect(PresentedCredential.fromKeyHeader([]) == .missing)
        #expect(PresentedCredential.fromKeyHeader(["  "]) == .missing)
        #expect(PresentedCredential.fromKeyHeader([" tg_live_abc\t"]) == .key("tg_live_abc"))
        #expect(PresentedCredential.fromKeyHeader(["a", "b"]) == .malformed(.ambiguous))
        // The same key twice is one key (issue 13 item 8).
        #expect(PresentedCredential.fromKeyHeader(["tg_live_abc", " tg_live_abc"]) == .key("tg_live_abc"))
        #expect(PresentedCredential.fromAuthorization(["Bearer abc", "Bearer abc"]) == .key("abc"))
        #expect(PresentedCredential.fromKeyHeader(["a", " "]) == .key("a"))
        #expect(PresentedCredential.fromKeyHeader(["tg live"]) == .malformed(.invalidCharacters))
        #expect(PresentedCredential.fromKeyHeader(["tg_é"]) == .malformed(.invalidCharacters))
        #expect(PresentedCredential.fromKeyHeader([String(repeating: "a", count: 65)]) == .malformed(.tooLong))
        #expect(PresentedCredential.fromKeyHeader([String(repeating: "a", count: 100_000)]) == .malformed(.tooLong))
        #expect(PresentedCredential.fromAuthorization(["Bearer tg_live_abc"]) == .key("tg_live_abc"))
        #expect(PresentedCredential.fromAuthorization(["bEaReR \t tg_live_abc "]) == .key("tg_live_abc"))
        // Another scheme is not a key (issue 13 item 8): it must not clash with a key sent elsewhere.
        #expect(PresentedCredential.fromAuthorization(["Basic dXNlcjpwYXNz"]) == .missing)
        #expect(PresentedCredential.fromAuthorization(["Basic dXNlcjpwYXNz", "Bearer tg_live_abc"]) == .key("tg_live_abc"))
        #expect(PresentedCredential.fromAuthorization(["Bearer"]) == .malformed(.emptyBearer))
        #expect(PresentedCredential.fromAuthorization(["Bearerx abc"]) == .missing)
        #expect(PresentedCredential.fromAuthorization(["Bearer a b"]) == .malformed(.invalidCharacters))
        #expect(PresentedCredential.fromAuthorization([]) == .missing)
    }
}
