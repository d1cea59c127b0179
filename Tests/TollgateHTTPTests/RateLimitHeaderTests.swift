import Testing
import Tollgate
@testable import TollgateHTTP
import TollgateTestSupport

/// A store with a `free` tier: 2 a second and 5 a minute, per key, fixed windows.
private struct Fixture {
    let temporary: TemporaryStore
    var store: Store { temporary.store }
    var clock: ManualClock { temporary.clock }

    init() throws {
        temporary = try TemporaryStore()
        try temporary.store.setTier(Tier(name: "free", limits: [
            Limit(name: "second", strategy: .fixedWindow, quantity: 2, windowMicroseconds: 1_000_000),
            Limit(name: "minute", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 60_000_000),
        ]))
    }

    func key(_ request: NewKey = NewKey(owner: "acme", tier: "free")) throws -> IssuedKey {
        try store.createKey(request)
    }

    func remove() { temporary.remove() }
}

@Suite struct RateLimitHeaderTests {
    @Test func headersFollowTheDraft() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        fixture.clock.advance(microseconds: 250_000)
        let allowed = try fixture.store.authorize(key: key.secret)
        #expect(allowed.rateLimitPolicyHeader == #""second";q=2;w=1, "minute";q=5;w=60"#)
        #expect(allowed.rateLimitHeader == #""second";r=1;t=1, "minute";r=4;t=60"#)
        #expect(allowed.retryAfterSeconds == nil)
        _ = try fixture.store.authorize(key: key.secret)
        let limited = try fixture.store.authorize(key: key.secret)
        #expect(limited.rateLimitHeader == #""second";r=0;t=1, "minute";r=3;t=60"#)
        #expect(limited.retryAfterSeconds == 1)
        let headers = limited.rateLimitHeaders(legacy: true)
        #expect(headers.map(\.name) == ["RateLimit-Policy", "RateLimit", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"])
        #expect(headers[3].value == "2" && headers[4].value == "0" && headers[5].value == "1")
    }

    @Test func rejectedKeysCarryNoRateLimitHeaders() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let decision = try fixture.store.authorize(key: "tg_live_nonsense")
        #expect(decision.rateLimitHeaders(legacy: true).isEmpty)
    }

    @Test func secondsRoundUp() {
        #expect(Decision.ceilSeconds(0) == 0)
        #expect(Decision.ceilSeconds(1) == 1)
        #expect(Decision.ceilSeconds(1_000_000) == 1)
        #expect(Decision.ceilSeconds(1_000_001) == 2)
        #expect(Decision.sfString(#"a"b\c"#) == #""a\"b\\c""#)
    }

    /// A token bucket and GCRA announce their burst and the time to refill it (the demo's `pro` tier).
    @Test func bucketsAnnounceTheirBurst() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "pro", limits: [
            try Limit(spec: "second=20/second:token-bucket,burst=40"),
            try Limit(spec: "gcra=20/second:gcra,burst=40"),
            try Limit(spec: "day=100000/day"),
        ]))
        let key = try fixture.key(NewKey(owner: "acme", tier: "pro"))
        let decision = try fixture.store.authorize(key: key.secret, cost: 5)
        #expect(decision.rateLimitPolicyHeader == #""second";q=40;w=2, "gcra";q=40;w=2, "day";q=100000;w=86400"#)
        #expect(decision.rateLimitHeader?.hasPrefix(#""second";r=35;t=1, "gcra";r=35;t=1"#) == true)
        let legacy = decision.rateLimitHeaders(legacy: true)
        #expect(legacy.first { $0.name == "X-RateLimit-Limit" }?.value == "40")
        #expect(legacy.first { $0.name == "X-RateLimit-Remaining" }?.value == "35")
    }
}
