import Testing
import Tollgate

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

    let proxies = try! TrustedProxies(["10.0.0.0/8", "fd00::/8"])
    let proxy = IPAddress("10.0.0.2")!

    @Test("Without trusted proxies the forwarding headers are ignored")
    func untrusted() {
        let peer = IPAddress("198.51.100.4")!
        #expect(ClientAddress.resolve(peer: peer, xForwardedFor: ["1.1.1.1"], trusting: .none) == peer)
        #expect(ClientAddress.resolve(peer: peer, forwarded: ["for=1.1.1.1"], trusting: .none) == peer)
        // A peer outside the trusted networks is not believed either.
        #expect(ClientAddress.resolve(peer: peer, xForwardedFor: ["1.1.1.1"], trusting: proxies) == peer)
        #expect(ClientAddress.resolve(peer: nil, xForwardedFor: ["1.1.1.1"], trusting: proxies) == nil)
    }

    @Test("Through trusted proxies the rightmost untrusted hop is the client")
    func trusted() {
        let client = IPAddress("203.0.113.7")!
        #expect(ClientAddress.resolve(peer: proxy, xForwardedFor: ["203.0.113.7"], trusting: proxies) == client)
        // A client that sends its own X-Forwarded-For only adds entries on the left.
        #expect(ClientAddress.resolve(peer: proxy, xForwardedFor: ["6.6.6.6, 203.0.113.7"], trusting: proxies) == client)
        #expect(ClientAddress.resolve(peer: proxy, xForwardedFor: ["6.6.6.6", "203.0.113.7, 10.1.1.1"], trusting: proxies) == client)
        // Ports and brackets are dropped.
        #expect(ClientAddress.resolve(peer: proxy, xForwardedFor: ["203.0.113.7:5555"], trusting: proxies) == client)
        #expect(ClientAddress.resolve(peer: proxy, xForwardedFor: ["203.0.113.7, ,10.0.0.5,"], trusting: proxies) == client)
        #expect(ClientAddress.resolve(peer: proxy, xForwardedFor: ["[2001:db8::7]:443"], trusting: proxies) == IPAddress("2001:db8::7"))
        // Nothing forwarded: the proxy itself.
        #expect(ClientAddress.resolve(peer: proxy, trusting: proxies) == proxy)
        // Only trusted hops: the leftmost.
        #expect(ClientAddress.resolve(peer: proxy, xForwardedFor: ["10.9.9.9, 10.8.8.8"], trusting: proxies) == IPAddress("10.9.9.9"))
    }

    @Test("An unidentifiable hop stops the walk at the last trusted address")
    func unidentified() {
        #expect(ClientAddress.resolve(peer: proxy, xForwardedFor: ["203.0.113.7, garbage"], trusting: proxies) == proxy)
        #expect(ClientAddress.resolve(peer: proxy, xForwardedFor: ["203.0.113.7, unknown, 10.3.3.3"], trusting: proxies) == IPAddress("10.3.3.3"))
        #expect(ClientAddress.resolve(peer: proxy, forwarded: ["for=unknown"], trusting: proxies) == proxy)
        #expect(ClientAddress.resolve(peer: proxy, forwarded: ["for=\"_hidden\""], trusting: proxies) == proxy)
        // Over the size bound: not parsed at all.
        let huge = Array(repeating: "1.2.3.4", count: 2_000).joined(separator: ",")
        #expect(ClientAddress.resolve(peer: proxy, xForwardedFor: [huge], trusting: proxies) == proxy)
    }

    @Test("Forwarded (RFC 7239) is preferred and parsed by its grammar")
    func forwarded() {
        let client = IPAddress("192.0.2.60")!
        #expect(ClientAddress.resolve(peer: proxy, forwarded: ["for=192.0.2.60;proto=http;by=203.0.113.43"], trusting: proxies) == client)
        #expect(ClientAddress.resolve(peer: proxy, forwarded: ["For=\"192.0.2.60:8080\""], trusting: proxies) == client)
        #expect(ClientAddress.resolve(peer: proxy, forwarded: ["for=\"[2001:db8:cafe::17]:4711\""], trusting: proxies) == IPAddress("2001:db8:cafe::17"))
        #expect(ClientAddress.resolve(
            peer: proxy, forwarded: ["for=6.6.6.6, for=192.0.2.60", "for=10.0.0.9;proto=https"], xForwardedFor: ["7.7.7.7"], trusting: proxies)
            == client)
        // A quoted value with an escape.
        #expect(ClientAddress.resolve(peer: proxy, forwarded: ["for=\"192.0.2.\\60\""], trusting: proxies) == client)
        // Grammar errors: the whole header is disbelieved.
        for broken in ["for=\"192.0.2.60", "for", "for=1.2.3.4 x", "for=1.2.3.4;for=5.6.7.8", "=1.2.3.4", "for=1.2.3.4;;"] {
            #expect(ClientAddress.resolve(peer: proxy, forwarded: [broken], trusting: proxies) == proxy, "\(broken)")
        }
        #expect(ClientAddress.resolve(peer: proxy, forwarded: ["proto=https"], trusting: proxies) == proxy)
        #expect(ClientAddress.resolve(peer: proxy, forwarded: ["for=192.0.2.60 , ,for=10.0.0.1"], trusting: proxies) == client)
    }

    // MARK: Key extraction

    @Test("Key headers and bearer tokens")
    func credentials() {
        #expect(PresentedCredential.fromKeyHeader([]) == .missing)
        #expect(PresentedCredential.fromKeyHeader(["  "]) == .missing)
        #expect(PresentedCredential.fromKeyHeader([" tg_live_abc\t"]) == .key("tg_live_abc"))
        #expect(PresentedCredential.fromKeyHeader(["a", "b"]) == .malformed(.ambiguous))
        #expect(PresentedCredential.fromKeyHeader(["a", " "]) == .key("a"))
        #expect(PresentedCredential.fromKeyHeader(["tg live"]) == .malformed(.invalidCharacters))
        #expect(PresentedCredential.fromKeyHeader(["tg_é"]) == .malformed(.invalidCharacters))
        #expect(PresentedCredential.fromKeyHeader([String(repeating: "a", count: 65)]) == .malformed(.tooLong))
        #expect(PresentedCredential.fromKeyHeader([String(repeating: "a", count: 100_000)]) == .malformed(.tooLong))
        #expect(PresentedCredential.fromAuthorization(["Bearer tg_live_abc"]) == .key("tg_live_abc"))
        #expect(PresentedCredential.fromAuthorization(["bEaReR \t tg_live_abc "]) == .key("tg_live_abc"))
        #expect(PresentedCredential.fromAuthorization(["Basic dXNlcjpwYXNz"]) == .malformed(.notBearer))
        #expect(PresentedCredential.fromAuthorization(["Bearer"]) == .malformed(.emptyBearer))
        #expect(PresentedCredential.fromAuthorization(["Bearerx abc"]) == .malformed(.notBearer))
        #expect(PresentedCredential.fromAuthorization(["Bearer a b"]) == .malformed(.invalidCharacters))
        #expect(PresentedCredential.fromAuthorization([]) == .missing)
    }
}
