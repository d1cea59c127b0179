import Dispatch
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Metrics
import MetricsTestKit
import Testing
@testable import Tollgate
import TollgateHTTP
import TollgateHummingbird
import TollgateLMDB
import TollgateTestSupport

/// Over real loopback connections: the client address is the connection's peer, 127.0.0.1.
@Suite("Hummingbird middleware over loopback")
struct LiveTests {
    let loopback = try! TrustedProxies(["127.0.0.1/32"], header: .xForwardedFor(trustedHops: 1))

    func whoami(_ client: some TestClientProtocol, _ fields: HTTPFields) async throws -> String {
        try await client.executeRequest(uri: "/whoami", method: .get, headers: fields, body: nil).text
    }

    @Test func withoutTrustedProxiesASpoofedXForwardedForChangesNothing() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try harness.store.setTier(Tier(name: "big", limits: [try Limit(spec: "hour=100/hour")]))
        let key = try harness.key(tier: "big")
        var policies = RoutePolicies()
        policies.set("/items", RoutePolicy(limits: [try Limit(spec: "per-ip=2/hour,by=ip")]))
        try await harness.app(policies: policies).test(.live) { client in
            let spoofed = headers([("X-API-Key", key.secret), ("X-Forwarded-For", "203.0.113.1"), ("Forwarded", "for=203.0.113.2")])
            #expect(try await whoami(client, spoofed).hasSuffix(" 127.0.0.1 false"))
            for (index, fake) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"].enumerated() {
                let fields = headers([("X-API-Key", key.secret), ("X-Forwarded-For", fake)])
                try await expectStatus(client, "/items", fields, index < 2 ? .ok : .tooManyRequests)
            }
        }
    }

    @Test func throughATrustedProxyTheForwardedClientIsCounted() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try harness.store.setTier(Tier(name: "big", limits: [try Limit(spec: "hour=100/hour")]))
        let key = try harness.key(tier: "big")
        var configuration = TollgateConfiguration()
        configuration.trustedProxies = loopback
        var policies = RoutePolicies()
        policies.set("/items", RoutePolicy(limits: [try Limit(spec: "per-ip=2/hour,by=ip")]))
        try await harness.app(configuration: configuration, policies: policies).test(.live) { client in
            // The client may prepend anything; the proxy's own entry (rightmost) counts.
            let viaProxy = headers([("X-API-Key", key.secret), ("X-Forwarded-For", "6.6.6.6, 203.0.113.1")])
            #expect(try await whoami(client, viaProxy).hasSuffix(" 203.0.113.1 false"))
            for fake in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
                let fields = headers([("X-API-Key", key.secret), ("X-Forwarded-For", fake)])
                try await expectStatus(client, "/items", fields, .ok)
                try await expectStatus(client, "/items", fields, .ok)
                try await expectStatus(client, "/items", fields, .tooManyRequests)
            }
            // IPv6 clients share their /64.
            try await expectStatus(client, "/items", headers([("X-API-Key", key.secret), ("X-Forwarded-For", "2001:db8:1:1::a")]), .ok)
            try await expectStatus(client, "/items", headers([("X-API-Key", key.secret), ("X-Forwarded-For", "2001:db8:1:1::b")]), .ok)
            try await expectStatus(client, "/items", headers([("X-API-Key", key.secret), ("X-Forwarded-For", "2001:db8:1:1::c")]), .tooManyRequests)
        }
    }

    // Issue 12 item 1.
    @Test func onlyTheConfiguredForwardingHeaderIsBelievedAndAnUnresolvableOneIs400() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        try harness.store.setTier(Tier(name: "big", limits: [try Limit(spec: "hour=100/hour")]))
        let key = try harness.key(tier: "big")
        var configuration = TollgateConfiguration()
        configuration.trustedProxies = loopback
        try await harness.app(configuration: configuration).test(.live) { client in
            // The proxy appends to X-Forwarded-For and passes the client's own Forwarded through.
            let both = headers([("X-API-Key", key.secret), ("Forwarded", "for=203.0.113.99"), ("X-Forwarded-For", "198.51.100.7")])
            #expect(try await whoami(client, both).hasSuffix(" 198.51.100.7 false"))
            let forwardedOnly = headers([("X-API-Key", key.secret), ("Forwarded", "for=203.0.113.99")])
            #expect(try await whoami(client, forwardedOnly).hasSuffix(" 127.0.0.1 false"))
            // What cannot be resolved is refused, not counted as the proxy.
            let huge = Array(repeating: "1.2.3.4", count: 2_000).joined(separator: ",")
            for (value, detail) in [
                (huge, "The forwarding header is too long."),
                ("198.51.100.7, garbage", "The forwarding header does not identify the client."),
            ] {
                let response = try await client.executeRequest(
                    uri: "/whoami", method: .get, headers: headers([("X-API-Key", key.secret), ("X-Forwarded-For", value)]), body: nil)
                #expect(response.status == .badRequest)
                #expect(response.problem?["detail"] as? String == detail)
            }
        }
        var forwarded = TollgateConfiguration()
        forwarded.trustedProxies = try TrustedProxies(["127.0.0.1/32"], header: .forwarded(trustedHops: 1))
        try await harness.app(configuration: forwarded).test(.live) { client in
            let both = headers([("X-API-Key", key.secret), ("Forwarded", "for=\"[2001:db8::1]:443\""), ("X-Forwarded-For", "198.51.100.7")])
            #expect(try await whoami(client, both).hasSuffix(" 2001:db8::1 false"))
            let broken = headers([("X-API-Key", key.secret), ("Forwarded", "for=\"2001:db8::1")])
            try await expectStatus(client, "/whoami", broken, .badRequest)
        }
        // Only whoami's allowed requests were charged (three of them).
        #expect(try harness.store.peek(key: key.secret).limits[0].remaining == 97)
    }

    @Test func guessingKeysIsThrottledPerClientBeforeAnyLookup() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        var configuration = TollgateConfiguration()
        configuration.trustedProxies = loopback
        configuration.failedVerificationLimits = [try Limit(spec: "auth-failures=3/minute,by=ip")]
        try await harness.app(configuration: configuration).test(.live) { client in
            let guesser = "198.51.100.66"
            let guesses = [KeyFormat.default.generate(), "junk", KeyFormat.default.generate()]
            for guess in guesses {
                try await expectStatus(client, "/items", headers([("X-API-Key", guess), ("X-Forwarded-For", guesser)]), .unauthorized)
            }
            let fourth = try await client.executeRequest(
                uri: "/items", method: .get, headers: headers([("X-API-Key", KeyFormat.default.generate()), ("X-Forwarded-For", guesser)]), body: nil)
            #expect(fourth.status == .tooManyRequests)
            #expect(fourth.problem?["violated-policies"] as? [String] == ["auth-failures"])
            #expect(fourth.header("Retry-After") == "60")
            // Blocked, even with a valid key, until the window passes; other clients are not.
            try await expectStatus(client, "/items", headers([("X-API-Key", harness.free.secret), ("X-Forwarded-For", guesser)]), .tooManyRequests)
            try await expectStatus(client, "/items", headers([("X-API-Key", harness.free.secret), ("X-Forwarded-For", "198.51.100.7")]), .ok)
            // The valid key was not charged while its client was blocked.
            #expect(try harness.store.peek(key: harness.free.secret).limits[0].remaining == 2)
            // The counts live in the store (shared with other processes), not only in memory.
            let failures = try Limit(spec: "auth-failures=3/minute,by=ip")
            #expect(try harness.store.peekThrottle([failures], subjects: ["ip": guesser]).outcome == .rateLimited)
            harness.temporary.clock.advance(by: .seconds(61))
            try await expectStatus(client, "/items", headers([("X-API-Key", harness.free.secret), ("X-Forwarded-For", guesser)]), .ok)
        }
    }

    @Test func failClosedAnswers503AndFailOpenLetsThrough() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        var open = TollgateConfiguration()
        open.failureMode = .open
        let closedApp = harness.app()
        let openApp = harness.app(configuration: open)
        harness.store.close()  // every authorize now fails with `closed`
        try await closedApp.test(.router) { client in
            let response = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(harness.free.secret), body: nil)
            #expect(response.status == .serviceUnavailable)
            #expect(response.header("Retry-After") == "1")
            #expect(response.problem?["status"] as? Int == 503)
            #expect(!response.text.contains(harness.free.secret))
        }
        try await openApp.test(.router) { client in
            let response = try await client.executeRequest(uri: "/whoami", method: .get, headers: apiKey(harness.free.secret), body: nil)
            #expect(response.status == .ok)
            #expect(response.text == "- - true")
            #expect(response.header("RateLimit") == nil)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aStuckStoreIsBoundedByTheTimeout() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        var closed = TollgateConfiguration()
        closed.timeout = .milliseconds(300)
        var open = closed
        open.failureMode = .open
        let lock = WriteLockHolder(harness.store)
        try await harness.app(configuration: closed).test(.router) { client in
            let started = ContinuousClock.now
            try await expectStatus(client, "/items", apiKey(harness.free.secret), .serviceUnavailable)
            #expect(ContinuousClock.now - started < .seconds(5))
        }
        try await harness.app(configuration: open).test(.router) { client in
            try await expectText(client, "/whoami", apiKey(harness.free.secret), "- - true")
        }
        lock.release()
        // Both timed-out requests were dropped from the queue: nothing was charged.
        #expect(try harness.store.peek(key: harness.free.secret).limits[0].remaining == 3)
    }

    @Test func decisionsAreCountedInMetrics() async throws {
        // The writer's metrics are process-wide; the middleware's go to a factory of this test's own,
        // so suites running in parallel cannot add to (or stand in for) the decisions counted here.
        let writerMetrics = TestMetricsBootstrap.shared
        let metrics = TestMetrics()
        let harness = try Harness()
        defer { harness.remove() }
        var configuration = TollgateConfiguration()
        configuration.metricsFactory = metrics
        try await harness.app(configuration: configuration).test(.router) { client in
            for _ in 0..<4 { _ = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(harness.free.secret), body: nil) }
            _ = try await client.executeRequest(uri: "/items", method: .get, headers: [:], body: nil)
        }
        func count(_ outcome: String) -> Int64 { metrics.counterTotal(label: "tollgate_decisions", dimensions: [("outcome", outcome)]) }
        // 3 an hour: 3 allowed and 1 refused, unless the 4 requests straddle an hour boundary.
        #expect(count("allowed") + count("rateLimited") == 4)
        #expect(count("rateLimited") >= 1)
        #expect(count("missingKey") == 1)
        #expect(metrics.counterTotal(label: "tollgate_decisions") == 5, "one decision counted per request, nothing else")
        #expect(metrics.timers(label: "tollgate_decision_duration").flatMap(\.values).count == 5)
        #expect(writerMetrics.recorders(label: "tollgate_writer_batch_size").contains { !$0.values.isEmpty })
        #expect(!writerMetrics.timers(label: "tollgate_writer_commit_duration").isEmpty)
    }
}

/// swift-metrics can be bootstrapped once per process: the first test that needs it does.
enum TestMetricsBootstrap {
    static let shared: TestMetrics = {
        let metrics = TestMetrics()
        MetricsSystem.bootstrap(metrics)
        return metrics
    }()
}

/// Holds the store's LMDB write lock on a thread of its own until `release()`.
final class WriteLockHolder: Sendable {
    private let acquired = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(_ store: Store) {
        let environment = store.environment
        let thread = Thread { [acquired, released, done] in
            _ = try? environment.write { _ in
                acquired.signal()
                released.wait()
            }
            done.signal()
        }
        thread.start()
        acquired.wait()
    }

    func release() {
        released.signal()
        done.wait()
    }
}
