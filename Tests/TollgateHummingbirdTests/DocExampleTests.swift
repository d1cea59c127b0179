import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import Tollgate
import TollgateHTTP
import TollgateHummingbird
import TollgateTestSupport

// Docs/hummingbird.md's example app, verbatim (a test below checks the two do not drift apart).
// BEGIN EXAMPLE
func makeApp(store: Store) throws -> some ApplicationProtocol {
    // How keys and clients are found, and what a refusal looks like.
    var configuration = TollgateConfiguration()
    configuration.keySources = [.apiKeyHeader, .bearer]        // X-API-Key or Authorization: Bearer
    configuration.trustedProxies = try TrustedProxies(["10.0.0.0/8"], header: .xForwardedFor(trustedHops: 1))  // your load balancers
    configuration.failureMode = .closed                         // 503 if the store fails (default)

    // What each route costs and needs, on top of the key's tier.
    var policies = RoutePolicies(default: RoutePolicy(cost: 1))
    policies.set("/health", .exempt)
    policies.set("/search", RoutePolicy(cost: 1, limits: [try Limit(spec: "search-ip=30/minute,by=ip")]))
    policies.set("/reports/{id}", method: .get, RoutePolicy(cost: 5, scope: "reports:read"))
    policies.setGroup("/admin", RoutePolicy(cost: 0, scope: "admin"))

    let router = Router(context: TollgateContext.self)
    router.add(middleware: TollgateMiddleware(store: store, configuration: configuration, policies: policies))
    router.get("/health") { _, _ in "ok" }
    router.get("/search") { _, context in "results for \(context.tollgate.identity?.owner ?? "?")" }
    router.get("/reports/{id}") { _, context in "report \(context.parameters.get("id") ?? "?")" }
    router.group("admin").get("stats") { _, context in "stats for \(context.tollgate.identity?.id ?? "?")" }
    return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 8080)))
}
// END EXAMPLE

// Docs/hummingbird.md's authorizer of your own, verbatim (checked like the app above).
// BEGIN AUTHORIZER EXAMPLE
/// Admits every key as one test identity, with the scopes it lists: your handlers' tests run
/// behind the real middleware without a store.
struct AdmitAsTester: Authorizer {
    var identity = Decision.KeyIdentity(id: "key_tester", owner: "tester", tier: "test", scopes: ["reports:read"])

    func now() -> Timestamp { SystemClock().now() }

    func authorize(_ request: AuthorizationRequest, timeout: Duration?) async throws(TollgateError) -> Decision {
        let granted = request.scope.map(identity.scopes.contains) ?? true
        return Decision(outcome: granted ? .allowed : .forbidden, key: identity, cost: request.cost, at: request.at ?? now())
    }

    func throttle(
        _ limits: [Limit], subjects: [String: String], cost: UInt64, at: Timestamp?, timeout: Duration?
    ) async throws(TollgateError) -> Decision {
        Decision(outcome: .allowed, cost: cost, at: at ?? now())
    }

    func peek(_ request: AuthorizationRequest) async throws(TollgateError) -> Decision {
        try await authorize(request, timeout: nil)
    }
}

func makeTestApp(policies: RoutePolicies) -> some ApplicationProtocol {
    let router = Router(context: TollgateContext.self)
    router.add(middleware: TollgateMiddleware(authorizer: AdmitAsTester(), policies: policies))
    router.get("/reports/{id}") { _, context in "report for \(context.tollgate.identity?.owner ?? "?")" }
    router.group("admin").get("stats") { _, _ in "stats" }
    return Application(router: router)
}
// END AUTHORIZER EXAMPLE

@Suite struct DocExampleTests {
    @Test func theExampleAppServes() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "free", limits: [try Limit(spec: "minute=10/minute")]))
        let reader = try store.createKey(NewKey(owner: "acme", tier: "free", scopes: ["reports:read"]))
        try await makeApp(store: store).test(.router) { client in
            try await expectText(client, "/health", [:], "ok")
            try await expectText(client, "/search", apiKey(reader.secret), "results for acme")
            let report = try await client.executeRequest(uri: "/reports/7", method: .get, headers: apiKey(reader.secret), body: nil)
            #expect(report.text == "report 7")
            #expect(report.header("RateLimit")?.hasPrefix("\"minute\";r=4;") == true)  // 10 - 1 - 5
            try await expectStatus(client, "/admin/stats", apiKey(reader.secret), .forbidden)
        }
    }

    @Test func theExampleAuthorizerAdmitsWithItsScopesOnly() async throws {
        var policies = RoutePolicies()
        policies.set("/reports/{id}", RoutePolicy(cost: 5, scope: "reports:read"))
        policies.setGroup("/admin", RoutePolicy(cost: 0, scope: "admin"))
        try await makeTestApp(policies: policies).test(.router) { client in
            try await expectText(client, "/reports/7", apiKey("anything"), "report for tester")
            try await expectStatus(client, "/admin/stats", apiKey("anything"), .forbidden)
            try await expectStatus(client, "/reports/7", [:], .badRequest)
        }
    }

    @Test func docsShowThisFilesExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("Docs/hummingbird.md"), encoding: .utf8)
        let thisFile = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let begin = try #require(thisFile.range(of: "// BEGIN EXAMPLE\n"))
        let end = try #require(thisFile.range(of: "// END EXAMPLE"))
        let example = thisFile[begin.upperBound..<end.lowerBound]
        #expect(doc.contains(example), "Docs/hummingbird.md's example app and DocExampleTests.swift differ")
        let authorizerBegin = try #require(thisFile.range(of: "// BEGIN AUTHORIZER EXAMPLE\n"))
        let authorizerEnd = try #require(thisFile.range(of: "// END AUTHORIZER EXAMPLE"))
        let authorizer = thisFile[authorizerBegin.upperBound..<authorizerEnd.lowerBound]
        #expect(doc.contains(authorizer), "Docs/hummingbird.md's authorizer and DocExampleTests.swift differ")
    }
}
