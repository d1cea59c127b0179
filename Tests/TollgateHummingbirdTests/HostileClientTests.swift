import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import HummingbirdTesting
import Testing
@testable import Tollgate
import TollgateHTTP
@testable import TollgateHummingbird
import TollgateTestSupport

/// The middleware against clients that try to get around it: concurrent guessing, a spent
/// budget in another process, block-list flushing, HEAD for GET, and the credential rules.
@Suite("Hummingbird middleware against hostile clients")
struct HostileClientTests {
    // Issue 12 item 4.
    @Test func concurrentWrongKeysAreLookedUpAtMostTheBudgetAndThenTheRealKeyIsRefused() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try await harness.app().test(.router) { client in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<299 {
                    group.addTask {
                        try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(KeyFormat.default.generate()), body: nil).status
                    }
                }
                var all: [HTTPResponse.Status] = []
                for try await status in group { all.append(status) }
                return all
            }
            // A 401 is a key that was looked up; the default budget is 30 a minute.
            #expect(statuses.filter { $0 == .unauthorized }.count == 30)
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 269)
            let real = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(harness.free.secret), body: nil)
            #expect(real.status == .tooManyRequests)
            #expect(real.problem?["detail"] as? String == "Too many requests with invalid API keys from this client.")
        }
        // The real key was not charged.
        #expect(try harness.store.peek(key: harness.free.secret).limits[0].remaining == 3)
    }

    @Test func validKeysSpendNothingOfTheBudget() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try harness.store.setTier(Tier(name: "big", limits: [try Limit(spec: "hour=1000/hour")]))
        let key = try harness.key(tier: "big")
        var configuration = TollgateConfiguration()
        configuration.failedVerificationLimits = [try Limit(spec: "auth-failures=2/minute,by=ip")]
        try await harness.app(configuration: configuration).test(.router) { client in
            for _ in 0..<10 { try await expectStatus(client, "/items", apiKey(key.secret), .ok) }
            try await expectStatus(client, "/items", apiKey(KeyFormat.default.generate()), .unauthorized)
            try await expectStatus(client, "/items", apiKey(key.secret), .ok)
            try await expectStatus(client, "/items", apiKey(KeyFormat.default.generate()), .unauthorized)
            try await expectStatus(client, "/items", apiKey(key.secret), .tooManyRequests)
        }
    }

    // Issue 13 item 7.
    @Test func aClientBlockedByAnotherProcessIsBlockedHereBeforeItsKeyIsLookedAt() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        var configuration = TollgateConfiguration()
        configuration.failedVerificationLimits = [try Limit(spec: "auth-failures=3/minute,by=ip")]
        // Two middlewares: two in-memory block lists on one store, as two processes have.
        try await harness.app(configuration: configuration).test(.router) { client in
            for _ in 0..<3 { try await expectStatus(client, "/items", apiKey(KeyFormat.default.generate()), .unauthorized) }
            try await expectStatus(client, "/items", apiKey(KeyFormat.default.generate()), .tooManyRequests)
        }
        try await harness.app(configuration: configuration).test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(harness.free.secret), body: nil)
            #expect(response.status == .tooManyRequests)
            #expect(response.problem?["violated-policies"] as? [String] == ["auth-failures"])
        }
        #expect(try harness.store.peek(key: harness.free.secret).limits[0].remaining == 3)
    }

    // Issue 13 item 6.
    @Test func aFullBlockListEvictsExpiredEntriesThenTheSoonestEndingNeverEveryLiveBlock() throws {
        let blocked = BlockedClients(capacity: 4)
        func refusal(at seconds: Int64, for duration: Int64) -> Decision {
            let status = Decision.LimitStatus(
                name: "auth-failures", strategy: .fixedWindow, quantity: 1, windowMicroseconds: 60_000_000, subject: "ip",
                remaining: 0, resetAfter: duration * 1_000_000, retryAfter: duration * 1_000_000, allowed: false, neverFits: false)
            return Decision(
                outcome: .rateLimited, key: nil, limits: [status], creditsRemaining: nil, cost: 1,
                at: Timestamp(microseconds: seconds * 1_000_000), keyRejection: nil, receipt: nil)
        }
        let t = { (seconds: Int64) in Timestamp(microseconds: seconds * 1_000_000) }
        blocked.block("a", decision: refusal(at: 0, for: 10), at: t(0))  // ends at 10 s
        blocked.block("b", decision: refusal(at: 0, for: 60), at: t(0))
        blocked.block("c", decision: refusal(at: 0, for: 50), at: t(0))
        blocked.block("d", decision: refusal(at: 0, for: 70), at: t(0))
        // Full; a has expired: it goes, everyone else stays.
        blocked.block("e", decision: refusal(at: 20, for: 60), at: t(20))
        #expect(blocked.count == 4)
        for client in ["b", "c", "d", "e"] { #expect(blocked.refusal(for: client, at: t(21)) != nil, "\(client)") }
        // Full and nothing expired: only the block ending soonest (c, at 50 s) goes.
        blocked.block("f", decision: refusal(at: 21, for: 60), at: t(21))
        #expect(blocked.refusal(for: "c", at: t(22)) == nil)
        for client in ["b", "d", "e", "f"] { #expect(blocked.refusal(for: client, at: t(22)) != nil, "\(client)") }
        // Renewing a client already listed evicts nobody.
        blocked.block("f", decision: refusal(at: 22, for: 60), at: t(22))
        for client in ["b", "d", "e", "f"] { #expect(blocked.refusal(for: client, at: t(23)) != nil, "\(client)") }
    }

    // Issue 13 item 5.
    @Test func headTakesTheGetRoutesScopeAndCost() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try harness.store.setTier(Tier(name: "big", limits: [try Limit(spec: "hour=100/hour")]))
        let reader = try harness.key(scopes: ["reports:read"], tier: "big")
        let other = try harness.key(scopes: ["items:read"], tier: "big")
        var policies = RoutePolicies()
        policies.set("/reports/{id}", method: .get, RoutePolicy(cost: 5, scope: "reports:read"))
        #expect(policies.policy(method: .head, endpoint: "/reports/{id}") == RoutePolicy(cost: 5, scope: "reports:read"))
        let handled = HandlerCount()
        let router = Router(context: TollgateContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: TollgateMiddleware(store: harness.store, policies: policies))
        router.get("/reports/{id}") { _, _ in
            handled.increment()
            return "report"
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.router) { client in
            let refused = try await client.executeRequest(uri: "/reports/7", method: .head, headers: apiKey(other.secret), body: nil)
            #expect(refused.status == .forbidden)
            #expect(handled.value == 0)
            let allowed = try await client.executeRequest(uri: "/reports/7", method: .head, headers: apiKey(reader.secret), body: nil)
            #expect(allowed.status == .ok)
        }
        #expect(try harness.store.peek(key: reader.secret).limits[0].remaining == 95)
        // A HEAD policy of its own still wins.
        policies.set("/reports/{id}", method: .head, RoutePolicy(cost: 1))
        #expect(policies.policy(method: .head, endpoint: "/reports/{id}") == RoutePolicy(cost: 1))
    }

    // Issue 13 item 8.
    @Test func theSameKeyTwiceIsOneKeyAndAnotherAuthorizationSchemeIsNoKey() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        var configuration = TollgateConfiguration()
        configuration.keySources = [.apiKeyHeader, .bearer]
        configuration.failedVerificationLimits = [try Limit(spec: "auth-failures=1/minute,by=ip")]
        try await harness.app(configuration: configuration).test(.router) { client in
            let twice = headers([("X-API-Key", harness.free.secret), ("X-API-Key", harness.free.secret)])
            try await expectStatus(client, "/items", twice, .ok)
            let withBasic = headers([("X-API-Key", harness.free.secret), ("Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")])
            try await expectStatus(client, "/items", withBasic, .ok)
            // None of that was a failed verification: the budget of one is untouched.
            try await expectStatus(client, "/items", apiKey(KeyFormat.default.generate()), .unauthorized)
            try await expectStatus(client, "/items", apiKey(KeyFormat.default.generate()), .tooManyRequests)
        }
    }
}

/// Handler invocations, counted across tasks.
final class HandlerCount: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
