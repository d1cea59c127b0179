import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import Tollgate
import TollgateHTTP
import TollgateHummingbird

/// An ``Authorizer`` without any store: it answers with the decision (or error) the test chose and
/// records every call, so the middleware's side of the contract is tested with nothing but HTTP.
final class ScriptedAuthorizer: Authorizer {
    typealias Answer = @Sendable (AuthorizationRequest) -> Result<Decision, TollgateError>

    struct Calls: Sendable {
        var authorize: [(request: AuthorizationRequest, timeout: Duration?)] = []
        var throttle: [(limits: [Limit], subjects: [String: String], timeout: Duration?)] = []
        var peek = 0
    }

    private let answer: Answer
    private let clock: Mutex<Timestamp>
    private let recorded = Mutex(Calls())

    init(at now: Timestamp = Timestamp(microseconds: 1_000_000_000_000), _ answer: @escaping Answer) {
        self.answer = answer
        clock = Mutex(now)
    }

    /// Always this decision.
    convenience init(_ decision: Decision) {
        self.init(at: decision.at) { _ in .success(decision) }
    }

    var calls: Calls { recorded.withLock { $0 } }

    func advance(microseconds: Int64) {
        clock.withLock { $0 = $0.adding(microseconds: microseconds) }
    }

    func now() -> Timestamp { clock.withLock { $0 } }

    func authorize(_ request: AuthorizationRequest, timeout: Duration?) async throws(TollgateError) -> Decision {
        recorded.withLock { $0.authorize.append((request, timeout)) }
        return try answer(request).get()
    }

    func throttle(
        _ limits: [Limit], subjects: [String: String], cost: UInt64, at: Timestamp?, timeout: Duration?
    ) async throws(TollgateError) -> Decision {
        recorded.withLock { $0.throttle.append((limits, subjects, timeout)) }
        return Decision(outcome: .allowed, cost: cost, at: at ?? now())
    }

    func peek(_ request: AuthorizationRequest) async throws(TollgateError) -> Decision {
        recorded.withLock { $0.peek += 1 }
        return try answer(request).get()
    }
}

private let scriptedNow = Timestamp(microseconds: 1_000_000_000_000)
private let acme = Decision.KeyIdentity(id: "key_scripted", owner: "acme", tier: "free", scopes: ["items:read"])

private func status(_ name: String, remaining: UInt64, allowed: Bool = true, retryAfter: Int64 = 0) -> Decision.LimitStatus {
    Decision.LimitStatus(
        name: name, strategy: .fixedWindow, quantity: 10, windowMicroseconds: 60_000_000, subject: "key:key_scripted",
        remaining: remaining, resetAfter: 30_000_000, retryAfter: retryAfter, allowed: allowed, neverFits: false)
}

private func app(
    _ authorizer: ScriptedAuthorizer, configuration: TollgateConfiguration = TollgateConfiguration(), policies: RoutePolicies = RoutePolicies()
) -> some ApplicationProtocol {
    let router = Router(context: TollgateContext.self)
    router.add(middleware: TollgateMiddleware(authorizer: authorizer, configuration: configuration, policies: policies))
    Harness.routes(router)
    return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
}

@Suite("Middleware over a scripted authorizer (no store)")
struct ScriptedAuthorizerTests {
    @Test func anAllowedDecisionPassesTheRequestItsCostScopeSubjectsAndTimeout() async throws {
        let authorizer = ScriptedAuthorizer(Decision(
            outcome: .allowed, key: acme, limits: [status("minute", remaining: 7)], cost: 5, at: scriptedNow))
        var configuration = TollgateConfiguration()
        configuration.timeout = .milliseconds(750)
        var policies = RoutePolicies()
        policies.set("/reports", RoutePolicy(cost: 5, scope: "reports:read"))
        try await app(authorizer, configuration: configuration, policies: policies).test(.router) { client in
            let response = try await client.executeRequest(uri: "/reports", method: .get, headers: apiKey("any-key-at-all"), body: nil)
            #expect(response.status == .ok)
            #expect(response.header("RateLimit-Policy") == #""minute";q=10;w=60"#)
            #expect(response.header("RateLimit") == #""minute";r=7;t=30"#)
            let whoami = try await client.executeRequest(uri: "/whoami", method: .get, headers: apiKey("any-key-at-all"), body: nil)
            #expect(whoami.text == "key_scripted - false")
        }
        let calls = authorizer.calls
        try #require(calls.authorize.count == 2)
        let (request, timeout) = calls.authorize[0]
        #expect(request.key == "any-key-at-all" && request.cost == 5 && request.scope == "reports:read")
        #expect(request.subjects == ["ip": "unknown", "route": "GET /reports"])
        #expect(request.failureBudget?.subjects == ["ip": "unknown"])
        #expect(timeout == .milliseconds(750))
        #expect(calls.throttle.isEmpty && calls.peek == 0)
    }

    @Test func aRateLimitedDecisionIs429WithItsHeadersAndViolatedPolicies() async throws {
        let authorizer = ScriptedAuthorizer(Decision(
            outcome: .rateLimited, key: acme,
            limits: [status("second", remaining: 3), status("minute", remaining: 0, allowed: false, retryAfter: 11_500_000)],
            cost: 1, at: scriptedNow))
        try await app(authorizer).test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey("k"), body: nil)
            #expect(response.status == .tooManyRequests)
            #expect(response.header("Retry-After") == "12")
            #expect(response.header("RateLimit") == #""second";r=3;t=30, "minute";r=0;t=30"#)
            #expect(response.header("Content-Type") == "application/problem+json")
            #expect(response.text == #"{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","title":"Quota exceeded","status":429,"detail":"Limit minute is exhausted; retry in 12 s.","violated-policies":["minute"]}"#)
        }
    }

    @Test func creditsExhaustedIs429NamingCredits() async throws {
        let authorizer = ScriptedAuthorizer(Decision(outcome: .creditsExhausted, key: acme, creditsRemaining: 2, cost: 5, at: scriptedNow))
        try await app(authorizer).test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey("k"), body: nil)
            #expect(response.status == .tooManyRequests)
            #expect(response.problem?["violated-policies"] as? [String] == ["credits"])
            #expect(response.problem?["detail"] as? String == "The key has 2 credits left; this request costs 5.")
        }
    }

    @Test("refused keys are 401 with a challenge, a missing scope 403 without", arguments: [
        (Decision.Outcome.unknownKey, 401), (.revoked, 401), (.disabled, 401), (.expired, 401), (.forbidden, 403),
    ])
    func refusedKeys(outcome: Decision.Outcome, code: Int) async throws {
        let authorizer = ScriptedAuthorizer(Decision(outcome: outcome, cost: 1, at: scriptedNow))
        try await app(authorizer).test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey("k"), body: nil)
            #expect(response.status.code == code)
            #expect(response.problem?["status"] as? Int == code)
            #expect(response.header("WWW-Authenticate") == (code == 401 ? #"APIKey realm="api", header="X-API-Key""# : nil))
            #expect(response.header("RateLimit") == nil)
        }
        // Counted by the authorizer in its own transaction (the failure budget), not again by the middleware.
        #expect(authorizer.calls.throttle.isEmpty)
    }

    @Test func aMalformedKeyIsCountedByAKeylessThrottle() async throws {
        let authorizer = ScriptedAuthorizer(Decision(outcome: .malformedKey, cost: 1, at: scriptedNow, keyRejection: .badChecksum))
        try await app(authorizer).test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey("k"), body: nil)
            #expect(response.status == .unauthorized)
            #expect(response.problem?["detail"] as? String == "The API key is not a valid key.")
        }
        let throttled = try #require(authorizer.calls.throttle.first)
        #expect(throttled.subjects == ["ip": "unknown"])
        #expect(throttled.limits == TollgateConfiguration().failedVerificationLimits)
        #expect(throttled.timeout == TollgateConfiguration().timeout)
    }

    @Test func noKeyOrTwoKeysNeverReachTheAuthorizer() async throws {
        let authorizer = ScriptedAuthorizer(Decision(outcome: .allowed, cost: 1, at: scriptedNow))
        var configuration = TollgateConfiguration()
        configuration.keySources = [.apiKeyHeader, .bearer]
        var policies = RoutePolicies()
        policies.set("/health", .exempt)
        try await app(authorizer, configuration: configuration, policies: policies).test(.router) { client in
            try await expectStatus(client, "/items", [:], .badRequest)
            try await expectStatus(client, "/items", headers([("X-API-Key", "a"), ("Authorization", "Bearer b")]), .badRequest)
            try await expectStatus(client, "/health", [:], .ok)
        }
        #expect(authorizer.calls.authorize.isEmpty)
        #expect(authorizer.calls.throttle.count == 1)  // the ambiguous credential counts as a failed verification
    }

    @Test func aTimeoutIs503WhenClosedAndPassesUncheckedWhenOpen() async throws {
        let authorizer = ScriptedAuthorizer { _ in .failure(TollgateError(.timedOut, "authorize was not decided within 2 seconds")) }
        try await app(authorizer).test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey("k"), body: nil)
            #expect(response.status == .serviceUnavailable)
            #expect(response.header("Retry-After") == "1")
            #expect(response.problem?["title"] as? String == "Service Unavailable")
        }
        var open = TollgateConfiguration()
        open.failureMode = .open
        try await app(authorizer, configuration: open).test(.router) { client in
            try await expectText(client, "/whoami", apiKey("k"), "- - true")
        }
    }

    @Test func aRequestThatCanNeverBeDecidedIs400() async throws {
        let authorizer = ScriptedAuthorizer { _ in .failure(TollgateError(.missingSubject, "limit per-user counts by user; the request has no user")) }
        try await app(authorizer).test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey("k"), body: nil)
            #expect(response.status == .badRequest)
            #expect(response.problem?["detail"] as? String == "limit per-user counts by user; the request has no user")
        }
    }

    /// A client refused before its key was looked up is turned away without asking the authorizer
    /// again until the refusal's retry time on the authorizer's own clock has passed.
    @Test func aSpentFailureBudgetIsRememberedByTheAuthorizersClock() async throws {
        let budget = Decision.LimitStatus(
            name: "auth-failures", strategy: .slidingWindow, quantity: 30, windowMicroseconds: 60_000_000, subject: "ip:unknown",
            remaining: 0, resetAfter: 60_000_000, retryAfter: 20_000_000, allowed: false, neverFits: false)
        let authorizer = ScriptedAuthorizer { _ in
            .success(Decision(outcome: .rateLimited, limits: [budget], cost: 1, at: scriptedNow, refusedBeforeLookup: true))
        }
        try await app(authorizer).test(.router) { client in
            let first = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey("k"), body: nil)
            #expect(first.status == .tooManyRequests && first.header("Retry-After") == "20")
            #expect(first.problem?["detail"] as? String == "Too many requests with invalid API keys from this client.")
            authorizer.advance(microseconds: 5_000_000)
            let second = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey("k"), body: nil)
            #expect(second.status == .tooManyRequests && second.header("Retry-After") == "15")
            #expect(authorizer.calls.authorize.count == 1)
            authorizer.advance(microseconds: 15_000_000)
            _ = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey("k"), body: nil)
            #expect(authorizer.calls.authorize.count == 2)
        }
    }
}
