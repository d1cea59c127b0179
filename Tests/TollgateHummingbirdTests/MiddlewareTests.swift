import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import Tollgate
import TollgateHTTP
import TollgateHummingbird
import TollgateTestSupport

/// A store with a `free` tier (3 per hour by key, fixed window) and an app around it.
struct Harness {
    let temporary: TemporaryStore
    var store: Store { temporary.store }
    let free: IssuedKey

    init(_ configure: (inout Store.Options) -> Void = { _ in }) throws {
        temporary = try TemporaryStore(configure)
        try temporary.store.setTier(Tier(name: "free", limits: [try Limit(spec: "hour=3/hour"), try Limit(spec: "day=100/day")]))
        free = try temporary.store.createKey(NewKey(owner: "acme", tier: "free", scopes: ["items:read"]))
    }

    func key(scopes: [String] = ["items:read"], credits: UInt64? = nil, tier: String = "free") throws -> IssuedKey {
        var request = NewKey(owner: "acme", tier: tier, scopes: scopes)
        request.credits = credits
        return try store.createKey(request)
    }

    /// /items (the policy's default), /health, /reports, /whoami.
    func app(
        configuration: TollgateConfiguration = TollgateConfiguration(), policies: RoutePolicies = RoutePolicies()
    ) -> some ApplicationProtocol {
        let router = Router(context: TollgateContext.self)
        router.add(middleware: TollgateMiddleware(store: store, configuration: configuration, policies: policies))
        Self.routes(router)
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    static func routes(_ router: some RouterMethods<TollgateContext>) {
        router.get("/items") { _, context in "items for \(context.tollgate.identity?.owner ?? "nobody")" }
        router.get("/health") { _, _ in "ok" }
        router.get("/reports") { _, _ in "report" }
        router.get("/whoami") { _, context in
            "\(context.tollgate.identity?.id ?? "-") \(context.tollgate.clientAddress?.description ?? "-") \(context.tollgate.failedOpen)"
        }
    }

    func remove() { temporary.remove() }
}

func headers(_ pairs: [(String, String)]) -> HTTPFields {
    var fields = HTTPFields()
    for (name, value) in pairs { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
    return fields
}

func apiKey(_ key: String) -> HTTPFields { headers([("X-API-Key", key)]) }

func expectStatus(
    _ client: some TestClientProtocol, _ uri: String, _ fields: HTTPFields, _ status: HTTPResponse.Status,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let response = try await client.executeRequest(uri: uri, method: .get, headers: fields, body: nil)
    #expect(response.status == status, "\(uri)", sourceLocation: sourceLocation)
}

func expectText(
    _ client: some TestClientProtocol, _ uri: String, _ fields: HTTPFields, _ text: String,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let response = try await client.executeRequest(uri: uri, method: .get, headers: fields, body: nil)
    #expect(response.text == text, sourceLocation: sourceLocation)
}

extension TestResponse {
    var text: String { String(buffer: body) }
    func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
    func allHeaders(_ name: String) -> [String] { headers[values: HTTPField.Name(name)!] }
    var problem: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }
}

@Suite("Hummingbird middleware")
struct MiddlewareTests {
    @Test func anAllowedRequestCarriesTheIdentityAndTheRateLimitHeaders() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try await harness.app().test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(harness.free.secret), body: nil)
            #expect(response.status == .ok)
            #expect(response.text == "items for acme")
            #expect(response.header("RateLimit-Policy") == "\"hour\";q=3;w=3600, \"day\";q=100;w=86400")
            let state = try #require(response.header("RateLimit"))
            #expect(state.hasPrefix("\"hour\";r=2;t=") && state.contains("\"day\";r=99;t="))
            #expect(response.header("Retry-After") == nil)
            #expect(response.header("X-RateLimit-Limit") == nil)
        }
    }

    @Test func aMissingKeyIs400OrConfigured401WithAChallenge() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try await harness.app().test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: [:], body: nil)
            #expect(response.status == .badRequest)
            #expect(response.header("Content-Type") == "application/problem+json")
            #expect(response.text == #"{"type":"about:blank","title":"Bad Request","status":400,"detail":"No API key was presented."}"#)
            #expect(response.header("WWW-Authenticate") == nil)
        }
        var configuration = TollgateConfiguration()
        configuration.missingKeyStatus = .unauthorized
        configuration.keySources = [.apiKeyHeader, .bearer]
        try await harness.app(configuration: configuration).test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: [:], body: nil)
            #expect(response.status == .unauthorized)
            #expect(response.allHeaders("WWW-Authenticate") == ["APIKey realm=\"api\", header=\"X-API-Key\"", "Bearer realm=\"api\""])
        }
    }

    @Test func badKeysAre401WithOneBodyThatNeverEchoesTheKey() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        let revoked = try harness.key(), disabled = try harness.key(), expiring = try harness.key()
        try harness.store.revokeKey(id: revoked.info.id)
        try harness.store.disableKey(id: disabled.info.id)
        var soon = NewKey(owner: "acme", tier: "free")
        soon.expiresAt = harness.temporary.clock.now().adding(microseconds: 1_000_000)
        let expired = try harness.store.createKey(soon)
        harness.temporary.clock.advance(by: .seconds(2))
        _ = expiring
        let unknown = KeyFormat.default.generate()
        let malformed = String(harness.free.secret.dropLast()) + (harness.free.secret.hasSuffix("x") ? "y" : "x")
        try await harness.app().test(.router) { client in
            for presented in [unknown, revoked.secret, disabled.secret, expired.secret] {
                let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(presented), body: nil)
                #expect(response.status == .unauthorized)
                #expect(response.text == #"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The API key is not valid."}"#)
                #expect(response.header("WWW-Authenticate") == "APIKey realm=\"api\", header=\"X-API-Key\"")
                #expect(!response.text.contains(presented) && !response.text.contains(String(presented.dropFirst(8).prefix(10))))
            }
            for presented in [malformed, "nonsense", String(repeating: "k", count: 5_000), "tg_live_é"] {
                let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(presented), body: nil)
                #expect(response.status == .unauthorized, "\(presented.prefix(20))")
                #expect(!response.text.contains(presented))
                #expect(response.problem?["detail"] as? String == "The API key is not a valid key.")
            }
        }
    }

    @Test func aMissingScopeIs403() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        var policies = RoutePolicies()
        policies.set("/reports", RoutePolicy(scope: "reports:read"))
        try await harness.app(policies: policies).test(.router) { client in
            let response = try await client.executeRequest(uri: "/reports", method: .get, headers: apiKey(harness.free.secret), body: nil)
            #expect(response.status == .forbidden)
            #expect(response.problem?["status"] as? Int == 403)
            #expect(response.header("WWW-Authenticate") == nil)
        }
    }

    @Test func overTheLimitIs429WithRetryAfterAndViolatedPolicies() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try await harness.app().test(.router) { client in
            for _ in 0..<3 {
                try await expectStatus(client, "/items", apiKey(harness.free.secret), .ok)
            }
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(harness.free.secret), body: nil)
            #expect(response.status == .tooManyRequests)
            #expect(response.header("Retry-After") == "3600")  // the manual clock stands at the start of an hour
            #expect(response.header("RateLimit")?.hasPrefix("\"hour\";r=0;t=3600") == true)
            let problem = try #require(response.problem)
            #expect(problem["type"] as? String == "https://iana.org/assignments/http-problem-types#quota-exceeded")
            #expect(problem["violated-policies"] as? [String] == ["hour"])
            #expect(problem["status"] as? Int == 429)
        }
    }

    @Test func legacyHeadersAndRetryAfterJitterAreOptions() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        var configuration = TollgateConfiguration()
        configuration.legacyHeaders = true
        configuration.retryAfterJitterSeconds = 30
        try await harness.app(configuration: configuration).test(.router) { client in
            let first = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(harness.free.secret), body: nil)
            #expect(first.header("X-RateLimit-Limit") == "3" && first.header("X-RateLimit-Remaining") == "2" && first.header("X-RateLimit-Reset") == "3600")
            for _ in 0..<2 { _ = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(harness.free.secret), body: nil) }
            var seen = Set<Int>()
            for _ in 0..<20 {
                let refused = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(harness.free.secret), body: nil)
                let retry = try #require(Int(refused.header("Retry-After") ?? ""))
                #expect((3600...3630).contains(retry))
                seen.insert(retry)
            }
            #expect(seen.count > 1, "jitter varies")
        }
    }

    @Test func exhaustedCreditsAre429NamingCredits() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        let prepaid = try harness.key(credits: 1)
        try await harness.app().test(.router) { client in
            try await expectStatus(client, "/items", apiKey(prepaid.secret), .ok)
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(prepaid.secret), body: nil)
            #expect(response.status == .tooManyRequests)
            #expect(response.problem?["violated-policies"] as? [String] == ["credits"])
        }
    }

    @Test func keySourcesBearerQueryAndAmbiguity() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        let other = try harness.key()
        // Default: X-API-Key only — a bearer token is not looked at.
        try await harness.app().test(.router) { client in
            let bearer = headers([("Authorization", "Bearer \(harness.free.secret)")])
            try await expectStatus(client, "/items", bearer, .badRequest)
            try await expectStatus(client, "/items?api_key=\(harness.free.secret)", [:], .badRequest)
        }
        var configuration = TollgateConfiguration()
        configuration.keySources = [.apiKeyHeader, .bearer, .queryParameter("api_key")]
        try await harness.app(configuration: configuration).test(.router) { client in
            let bearer = headers([("Authorization", "Bearer \(harness.free.secret)")])
            try await expectStatus(client, "/items", bearer, .ok)
            try await expectStatus(client, "/items?api_key=\(harness.free.secret)", [:], .ok)
            let same = headers([("Authorization", "Bearer \(harness.free.secret)"), ("X-API-Key", harness.free.secret)])
            try await expectStatus(client, "/items", same, .ok)
            let conflicting = headers([("Authorization", "Bearer \(harness.free.secret)"), ("X-API-Key", other.secret)])
            let ambiguous = try await client.executeRequest(uri: "/items", method: .get, headers: conflicting, body: nil)
            #expect(ambiguous.status == .badRequest)
            #expect(ambiguous.problem?["detail"] as? String == "More than one API key was presented.")
            // Another scheme is not a key: alone, no key was presented.
            let basic = try await client.executeRequest(uri: "/items", method: .get, headers: headers([("Authorization", "Basic YTpi")]), body: nil)
            #expect(basic.status == .badRequest)
            #expect(basic.problem?["detail"] as? String == "No API key was presented.")
        }
    }

    @Test func routePoliciesGiveCostsScopesExemptionsAndGroupDefaults() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try harness.store.setTier(Tier(name: "big", limits: [try Limit(spec: "hour=100/hour")]))
        let key = try harness.key(scopes: ["items:read", "reports:read"], tier: "big")
        var policies = RoutePolicies(default: RoutePolicy(cost: 2))
        policies.set("/health", .exempt)
        policies.set("/reports", method: .get, RoutePolicy(cost: 10, scope: "reports:read"))
        policies.setGroup("/admin", RoutePolicy(cost: 7))
        let router = Router(context: TollgateContext.self)
        router.add(middleware: TollgateMiddleware(store: harness.store, policies: policies))
        Harness.routes(router)
        router.group("admin").get("stats") { _, _ in "stats" }.get("users/{id}") { _, _ in "user" }
        let app = Application(router: router)
        try await app.test(.router) { client in
            try await expectText(client, "/health", [:], "ok")
            func remaining(_ uri: String) async throws -> String? {
                let response = try await client.executeRequest(uri: uri, method: .get, headers: apiKey(key.secret), body: nil)
                return response.header("RateLimit").map { String($0.split(separator: ";")[1]) }
            }
            #expect(try await remaining("/items") == "r=98")       // default cost 2
            #expect(try await remaining("/reports") == "r=88")     // cost 10
            #expect(try await remaining("/admin/stats") == "r=81") // group: 7
            #expect(try await remaining("/admin/users/42") == "r=74")
            #expect(try await remaining("/health") == nil)         // exempt: nothing counted, no headers
            #expect(try await remaining("/items") == "r=72")
        }
    }

    @Test func aMiddlewareOnARouteGroupCoversOnlyThatGroup() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        let router = Router(context: TollgateContext.self)
        router.get("/public") { _, _ in "public" }
        let api = router.group("api").add(middleware: TollgateMiddleware<TollgateContext, Store>(store: harness.store, policy: RoutePolicy(cost: 3)))
        api.get("items") { _, context in context.tollgate.identity?.owner ?? "-" }
        try await Application(router: router).test(.router) { client in
            try await expectStatus(client, "/public", [:], .ok)
            let response = try await client.executeRequest(uri: "/api/items", method: .get, headers: apiKey(harness.free.secret), body: nil)
            #expect(response.text == "acme")
            #expect(response.header("RateLimit")?.hasPrefix("\"hour\";r=0") == true)
            try await expectStatus(client, "/api/items", [:], .badRequest)
        }
    }

    @Test func twoMiddlewaresOnOneRouteAreAConfigurationErrorNotADoubleCharge() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        let router = Router(context: TollgateContext.self)
        router.add(middleware: TollgateMiddleware(store: harness.store))
        router.group("api").add(middleware: TollgateMiddleware<TollgateContext, Store>(store: harness.store)).get("items") { _, _ in "x" }
        try await Application(router: router).test(.router) { client in
            let response = try await client.executeRequest(uri: "/api/items", method: .get, headers: apiKey(harness.free.secret), body: nil)
            #expect(response.status == .internalServerError)
        }
        #expect(try harness.store.peek(key: harness.free.secret).limits[0].remaining == 2)
    }

    @Test func routeLimitsByUserAndRouteAreConsumedWithTheTier() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try harness.store.setTier(Tier(name: "big", limits: [try Limit(spec: "hour=100/hour")]))
        let keyA = try harness.key(tier: "big"), keyB = try harness.key(tier: "big")
        var configuration = TollgateConfiguration()
        configuration.userSubject = { request in request.headers[HTTPField.Name("X-User")!] }
        var policies = RoutePolicies()
        policies.set("/items", RoutePolicy(limits: [try Limit(spec: "per-user=2/hour,by=user")]))
        policies.set("/reports", RoutePolicy(limits: [try Limit(spec: "whole-route=3/hour,by=route")]))
        try await harness.app(configuration: configuration, policies: policies).test(.router) { client in
            let alice = headers([("X-API-Key", keyA.secret), ("X-User", "alice")])
            let aliceOnB = headers([("X-API-Key", keyB.secret), ("X-User", "alice")])
            let bob = headers([("X-API-Key", keyA.secret), ("X-User", "bob")])
            try await expectStatus(client, "/items", alice, .ok)
            try await expectStatus(client, "/items", aliceOnB, .ok)
            let third = try await client.executeRequest(uri: "/items", method: .get, headers: alice, body: nil)
            #expect(third.status == .tooManyRequests && third.problem?["violated-policies"] as? [String] == ["per-user"])
            try await expectStatus(client, "/items", bob, .ok)
            // No user: the limit cannot be applied — a clear 400, not a crash or a free pass.
            let anonymous = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(keyA.secret), body: nil)
            #expect(anonymous.status == .badRequest)
            // By route: every key shares it.
            for (index, key) in [keyA, keyB, keyA, keyB].enumerated() {
                let status = try await client.executeRequest(uri: "/reports", method: .get, headers: apiKey(key.secret), body: nil).status
                #expect(status == (index < 3 ? .ok : .tooManyRequests))
            }
        }
        // The refused requests consumed nothing of the tier: 2 + 1 (bob) + 3 allowed.
        #expect(try harness.store.peek(key: keyA.secret).limits[0].remaining + (try harness.store.peek(key: keyB.secret).limits[0].remaining) == 200 - 6)
    }

    @Test func concurrentRequestsNeverOverAdmit() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try harness.store.setTier(Tier(name: "forty", limits: [try Limit(spec: "hour=40/hour")]))
        let key = try harness.key(tier: "forty")
        try await harness.app().test(.router) { client in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<120 {
                    group.addTask { try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(key.secret), body: nil).status }
                }
                var all: [HTTPResponse.Status] = []
                for try await status in group { all.append(status) }
                return all
            }
            #expect(statuses.filter { $0 == .ok }.count == 40)
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 80)
        }
    }
}
