import Testing
@testable import Tollgate
import TollgateTestSupport

@Suite("Call-site limits and keyless throttles")
struct CallSiteLimitTests {
    let perIP = try! Limit(spec: "ip=3/minute,by=ip")
    let routeWide = try! Limit(spec: "route=4/minute,by=route")

    @Test
    func additionalLimitsAreConsumedWithTheTiersAllOrNothing() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        let request = AuthorizationRequest(key: key.secret, subjects: ["ip": "203.0.113.7"], additionalLimits: [perIP])
        let first = try await fixture.store.authorize(request)
        #expect(first.isAllowed)
        #expect(first.limits.map(\.name) == ["second", "minute", "ip"])
        #expect(first.limits[2].remaining == 2 && first.limits[2].subject == "ip:203.0.113.7")
        // The tier's per-second limit (2) refuses the third request in the same second: the ip
        // counter must not move.
        #expect(try await fixture.store.authorize(request).isAllowed)
        let refused = try await fixture.store.authorize(request)
        #expect(refused.outcome == .rateLimited)
        #expect(refused.limits[2].allowed && refused.limits[2].remaining == 1)
        fixture.clock.advance(by: .seconds(1))
        #expect(try await fixture.store.authorize(request).isAllowed)
        // Now the ip limit is spent; the tier limits are not consumed by the refusal.
        let byIP = try await fixture.store.authorize(request)
        #expect(byIP.outcome == .rateLimited && !byIP.limits[2].allowed)
        #expect(byIP.limits[0].remaining == 1)
        // Another IP is another counter.
        var other = request
        other.subjects["ip"] = "203.0.113.8"
        #expect(try await fixture.store.authorize(other).limits[2].remaining == 2)
    }

    @Test
    func aCallSiteLimitNeverSharesTheCounterOfATierLimitOfTheSameName() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        let sameName = try Limit(spec: "minute=50/minute")
        let request = AuthorizationRequest(key: key.secret, additionalLimits: [sameName])
        let decision = try fixture.store.authorize(synchronously: request)
        #expect(decision.limits.map(\.remaining) == [1, 4, 49])
        #expect(try fixture.store.authorize(synchronously: request).limits.map(\.remaining) == [0, 3, 48])
        // Two call sites naming the same limit share it (a limit for a route group).
        let keyB = try fixture.key(NewKey(owner: "other", tier: "free"))
        let shared = AuthorizationRequest(key: keyB.secret, subjects: ["route": "reports"], additionalLimits: [routeWide])
        #expect(try fixture.store.authorize(synchronously: shared).limits[2].remaining == 3)
        let sharedFromKeyA = AuthorizationRequest(key: key.secret, subjects: ["route": "reports"], additionalLimits: [routeWide])
        fixture.clock.advance(by: .seconds(1))
        #expect(try fixture.store.authorize(synchronously: sharedFromKeyA).limits[2].remaining == 2)
    }

    @Test
    func additionalLimitsAreValidatedAndTheirSubjectsRequired() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        let twice = AuthorizationRequest(key: key.secret, subjects: ["ip": "1.2.3.4"], additionalLimits: [perIP, perIP])
        #expect((#expect(throws: TollgateError.self) { try fixture.store.authorize(synchronously: twice) })?.code == .invalidArgument)
        let missing = AuthorizationRequest(key: key.secret, additionalLimits: [perIP])
        #expect((#expect(throws: TollgateError.self) { try fixture.store.authorize(synchronously: missing) })?.code == .missingSubject)
        #expect((#expect(throws: TollgateError.self) { try fixture.store.peek(missing) })?.code == .missingSubject)
    }

    @Test
    func peekSeesAdditionalLimitsWithoutConsuming() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        let request = AuthorizationRequest(key: key.secret, subjects: ["ip": "1.2.3.4"], additionalLimits: [perIP])
        _ = try fixture.store.authorize(synchronously: request)
        let peeked = try fixture.store.peek(request)
        #expect(peeked.limits[2].remaining == 2)
        #expect(try fixture.store.peek(request).limits[2].remaining == 2)
    }

    @Test
    func keylessThrottleCountsBySubjectAllOrNothing() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let store = fixture.store
        let failures = try Limit(spec: "auth-failures=2/minute,by=ip")
        let global = try Limit(spec: "anonymous=3/minute,by=global")
        let ip1 = ["ip": "198.51.100.1"], ip2 = ["ip": "198.51.100.2"]
        #expect(try await store.throttle([failures, global], subjects: ip1).isAllowed)
        let second = try await store.throttle([failures, global], subjects: ip1)
        #expect(second.isAllowed && second.key == nil && second.limits.map(\.remaining) == [0, 1])
        let third = try await store.throttle([failures, global], subjects: ip1)
        #expect(third.outcome == .rateLimited && third.retryAfter != nil)
        // The refusal consumed nothing globally: ip2 still gets the last global unit.
        #expect(try store.throttle(synchronously: [failures, global], subjects: ip2).limits.map(\.remaining) == [1, 0])
        #expect(try store.peekThrottle([failures, global], subjects: ip2).outcome == .rateLimited)
        #expect(try store.peekThrottle([failures], subjects: ip2).limits[0].remaining == 1)
        #expect(try store.peekThrottle([failures], subjects: ip2).limits[0].remaining == 1)
        // A key's tier limit called "auth-failures" is another counter.
        fixture.clock.advance(by: .seconds(61))
        #expect(try store.peekThrottle([failures], subjects: ip1).limits[0].remaining == 2)
        // The counters are swept like any other once stale.
        fixture.clock.advance(by: .seconds(120))
        #expect(try store.sweep().counters >= 3)
    }

    @Test
    func keylessLimitsMustNotCountByKeyOrOwner() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        for spec in ["k=1/minute", "o=1/minute,by=owner"] {
            let limit = try Limit(spec: spec)
            let error = #expect(throws: TollgateError.self) { try fixture.store.peekThrottle([limit], subjects: [:]) }
            #expect(error?.code == .invalidArgument)
            let asyncError = await #expect(throws: TollgateError.self) { try await fixture.store.throttle([limit], subjects: [:]) }
            #expect(asyncError?.code == .invalidArgument)
        }
        let missing = #expect(throws: TollgateError.self) {
            try fixture.store.throttle(synchronously: [try Limit(spec: "x=1/minute,by=ip")], subjects: [:])
        }
        #expect(missing?.code == .missingSubject)
    }
}
