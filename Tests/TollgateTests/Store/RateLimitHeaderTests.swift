import Testing
@testable import Tollgate
import TollgateTestSupport

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
}
