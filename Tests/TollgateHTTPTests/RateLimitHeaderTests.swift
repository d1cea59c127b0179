import Testing
import Tollgate
@testable import TollgateHTTP

/// The header values of decisions built by hand: the numbers are the core's (its own tests and the
/// middleware's over a real store check them); here only how they are written.
@Suite struct RateLimitHeaderTests {
    private static let at = Timestamp(microseconds: 1_000_000_000_000)

    /// A fixed-window limit as a decision reports it.
    private static func status(
        _ name: String, quantity: UInt64, window: Int64, remaining: UInt64, resetAfter: Int64, retryAfter: Int64 = 0,
        policy: (quantity: UInt64, window: Int64)? = nil
    ) -> Decision.LimitStatus {
        Decision.LimitStatus(
            name: name, strategy: .fixedWindow, quantity: quantity, windowMicroseconds: window, subject: "key:key_a",
            remaining: remaining, resetAfter: resetAfter, retryAfter: retryAfter, allowed: retryAfter == 0, neverFits: false,
            policyQuantity: policy?.quantity, policyWindowMicroseconds: policy?.window)
    }

    @Test func headersFollowTheDraft() {
        // 2 a second and 5 a minute, 250 ms into both windows.
        let allowed = Decision(outcome: .allowed, limits: [
            Self.status("second", quantity: 2, window: 1_000_000, remaining: 1, resetAfter: 750_000),
            Self.status("minute", quantity: 5, window: 60_000_000, remaining: 4, resetAfter: 59_750_000),
        ], cost: 1, at: Self.at)
        #expect(allowed.rateLimitPolicyHeader == #""second";q=2;w=1, "minute";q=5;w=60"#)
        #expect(allowed.rateLimitHeader == #""second";r=1;t=1, "minute";r=4;t=60"#)
        #expect(allowed.retryAfterSeconds == nil)
        let limited = Decision(outcome: .rateLimited, limits: [
            Self.status("second", quantity: 2, window: 1_000_000, remaining: 0, resetAfter: 750_000, retryAfter: 750_000),
            Self.status("minute", quantity: 5, window: 60_000_000, remaining: 3, resetAfter: 59_750_000),
        ], cost: 1, at: Self.at)
        #expect(limited.rateLimitHeader == #""second";r=0;t=1, "minute";r=3;t=60"#)
        #expect(limited.retryAfterSeconds == 1)
        let headers = limited.rateLimitHeaders(legacy: true)
        #expect(headers.map(\.name) == ["RateLimit-Policy", "RateLimit", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"])
        #expect(headers[3].value == "2" && headers[4].value == "0" && headers[5].value == "1")
    }

    @Test func rejectedKeysCarryNoRateLimitHeaders() {
        let decision = Decision(outcome: .malformedKey, cost: 1, at: Self.at, keyRejection: .wrongPrefix)
        #expect(decision.rateLimitHeaders(legacy: true).isEmpty)
    }

    @Test func secondsRoundUp() {
        #expect(Decision.ceilSeconds(0) == 0)
        #expect(Decision.ceilSeconds(1) == 1)
        #expect(Decision.ceilSeconds(1_000_000) == 1)
        #expect(Decision.ceilSeconds(1_000_001) == 2)
        #expect(Decision.sfString(#"a"b\c"#) == #""a\"b\\c""#)
    }

    /// A bucket's `RateLimit-Policy` and legacy limit announce its policy quantity (the burst) and
    /// refill window, not its rate (the demo's `pro` tier: 20/second, bursts of 40).
    @Test func bucketsAnnounceTheirPolicyQuantity() {
        let decision = Decision(outcome: .allowed, limits: [
            Self.status("second", quantity: 20, window: 1_000_000, remaining: 35, resetAfter: 250_000, policy: (40, 2_000_000)),
            Self.status("day", quantity: 100_000, window: 86_400_000_000, remaining: 99_995, resetAfter: 3_600_000_000),
        ], cost: 5, at: Self.at)
        #expect(decision.rateLimitPolicyHeader == #""second";q=40;w=2, "day";q=100000;w=86400"#)
        #expect(decision.rateLimitHeader == #""second";r=35;t=1, "day";r=99995;t=3600"#)
        let legacy = decision.rateLimitHeaders(legacy: true)
        #expect(legacy.first { $0.name == "X-RateLimit-Limit" }?.value == "40")
        #expect(legacy.first { $0.name == "X-RateLimit-Remaining" }?.value == "35")
    }
}
