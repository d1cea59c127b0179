import Testing
import Tollgate
import TollgateTestSupport

/// ``FailureBudget``: failed verifications are checked and counted in the decision's transaction.
@Suite("Failed-verification budget")
struct FailureBudgetTests {
    let limits = [try! Limit(spec: "auth-failures=30/minute,by=ip")]

    // Issue 12 item 4: counted after the lookup, 299 concurrent guesses were all looked up.
    @Test func concurrentGuessesAreLookedUpAtMostTheBudget() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "free", limits: [try Limit(spec: "hour=3/hour")]))
        let real = try store.createKey(NewKey(owner: "acme", tier: "free"))
        let budget = FailureBudget(limits: limits, subjects: ["ip": "198.51.100.66"])
        let decisions = try await withThrowingTaskGroup(of: Decision.self) { group in
            for _ in 0..<299 {
                group.addTask { try await store.authorize(AuthorizationRequest(key: KeyFormat.default.generate(), failureBudget: budget)) }
            }
            var all: [Decision] = []
            for try await decision in group { all.append(decision) }
            return all
        }
        // An `unknownKey` answer is a lookup.
        #expect(decisions.filter { $0.outcome == .unknownKey }.count == 30)
        let refused = decisions.filter(\.refusedBeforeLookup)
        #expect(refused.count == 269)
        #expect(refused.allSatisfy { $0.outcome == .rateLimited && $0.key == nil && $0.limits.map(\.name) == ["auth-failures"] })
        // The real key is refused as documented, and not charged.
        let after = try await store.authorize(AuthorizationRequest(key: real.secret, failureBudget: budget))
        #expect(after.refusedBeforeLookup && after.outcome == .rateLimited && after.retryAfter != nil)
        #expect(try store.peek(key: real.secret).limits[0].remaining == 3)
        #expect(try store.peek(AuthorizationRequest(key: real.secret, failureBudget: budget)).refusedBeforeLookup)
        // The counts are the store's: a keyless throttle over the same limits sees them.
        #expect(try store.peekThrottle(limits, subjects: ["ip": "198.51.100.66"]).outcome == .rateLimited)
        // Another client is not affected.
        let other = FailureBudget(limits: limits, subjects: ["ip": "198.51.100.7"])
        #expect(try await store.authorize(AuthorizationRequest(key: real.secret, failureBudget: other)).isAllowed)
    }

    @Test func onlyFailedVerificationsSpendTheBudget() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "free", limits: [try Limit(spec: "hour=1/hour")]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "free", scopes: ["read"]))
        let revoked = try store.createKey(NewKey(owner: "acme", tier: "free"))
        try store.revokeKey(id: revoked.info.id)
        let budget = FailureBudget(limits: [try Limit(spec: "auth-failures=2/minute,by=ip")], subjects: ["ip": "a"])
        func decide(_ secret: String, scope: String? = nil) async throws -> Decision {
            try await store.authorize(AuthorizationRequest(key: secret, scope: scope, failureBudget: budget))
        }
        #expect(try await decide(key.secret).isAllowed)
        #expect(try await decide(key.secret).outcome == .rateLimited)  // the key's own limit
        #expect(try await decide(key.secret, scope: "write").outcome == .forbidden)
        #expect(try await decide(revoked.secret).outcome == .revoked)
        #expect(try await decide(KeyFormat.default.generate()).outcome == .unknownKey)
        let refused = try await decide(key.secret)
        #expect(refused.refusedBeforeLookup)
        // A budget that needs a key is refused before anything is decided.
        let byKey = FailureBudget(limits: [try Limit(spec: "x=2/minute")], subjects: [:])
        let needsKey = await #expect(throws: TollgateError.self) { try await store.authorize(AuthorizationRequest(key: key.secret, failureBudget: byKey)) }
        #expect(needsKey?.code == .invalidArgument)
    }
}
