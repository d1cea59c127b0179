import Testing
@testable import Tollgate
import TollgateTestSupport

@Suite struct AuthorizeTests {
    @Test func allowsUntilTheTightestLimitThenRefusesWithRetryAfter() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()

        let first = try fixture.store.authorize(key: key.secret)
        #expect(first.outcome == .allowed)
        #expect(first.key?.id == key.info.id)
        #expect(first.key?.tier == "free")
        #expect(first.limits.map(\.name) == ["second", "minute"])
        #expect(first.limits.map(\.remaining) == [1, 4])
        let second = try fixture.store.authorize(key: key.secret)
        #expect(second.isAllowed)
        let third = try fixture.store.authorize(key: key.secret)
        #expect(third.outcome == .rateLimited)
        #expect(third.retryAfter == 1_000_000)
        #expect(third.limits[0].allowed == false)
        #expect(third.limits[1].allowed == true)
        #expect(third.limits[1].remaining == 3, "a refused request consumes nothing from the other limits")

        fixture.clock.advance(by: .seconds(1))
        #expect(try fixture.store.authorize(key: key.secret).isAllowed)
    }

    @Test func multiLimitIsAllOrNothing() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        // Use up the minute limit across seconds: 2 + 2 + 1.
        for second in 0..<3 {
            for _ in 0..<(second < 2 ? 2 : 1) { #expect(try fixture.store.authorize(key: key.secret).isAllowed) }
            fixture.clock.advance(by: .seconds(1))
        }
        // Second window has room, minute window does not: nothing may be consumed.
        let refused = try fixture.store.authorize(key: key.secret)
        #expect(refused.outcome == .rateLimited)
        #expect(refused.limits[0].allowed && !refused.limits[1].allowed)
        let peek = try fixture.store.peek(key: key.secret)
        #expect(peek.limits[0].remaining == 2, "the per-second counter was not touched by the refused request")
    }

    @Test func costIsConsumedAndCostAboveQuantityCanNeverSucceed() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        let expensive = try fixture.store.authorize(key: key.secret, cost: 2)
        #expect(expensive.isAllowed)
        #expect(expensive.limits[1].remaining == 3)
        let tooMuch = try fixture.store.authorize(key: key.secret, cost: 3)
        #expect(tooMuch.outcome == .rateLimited)
        #expect(tooMuch.neverSucceeds)
        #expect(tooMuch.retryAfter == nil)
    }

    @Test func malformedKeysAreRejectedWithoutTouchingTheStore() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        var broken = Array(key.secret.utf8)
        broken[10] = broken[10] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
        fixture.store.close()
        // The store is closed: any lookup would throw `closed`. A malformed key never gets there.
        let decision = try fixture.store.authorize(key: String(decoding: broken, as: UTF8.self))
        #expect(decision.outcome == .malformedKey)
        #expect(decision.keyRejection == .badChecksum)
        #expect((#expect(throws: TollgateError.self) { try fixture.store.authorize(key: key.secret) })?.code == .closed)
    }

    @Test func unknownWellFormedKeyIsUnknown() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let decision = try fixture.store.authorize(key: fixture.store.keyFormat.generate())
        #expect(decision.outcome == .unknownKey)
        #expect(decision.key == nil)
    }

    @Test func scopesAreChecked() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key(NewKey(owner: "acme", tier: "free", scopes: ["items:read", "reports:*"]))
        #expect(try fixture.store.authorize(key: key.secret, scope: "items:read").isAllowed)
        #expect(try fixture.store.authorize(key: key.secret, scope: "reports:export").isAllowed)
        fixture.clock.advance(by: .seconds(1))
        let refused = try fixture.store.authorize(key: key.secret, scope: "items:write")
        #expect(refused.outcome == .forbidden)
        #expect(try fixture.store.peek(key: key.secret).limits[0].remaining == 2, "a forbidden request consumes nothing")
        let wildcard = try fixture.key(NewKey(owner: "acme", tier: "free", scopes: ["*"]))
        #expect(try fixture.store.authorize(key: wildcard.secret, scope: "anything").isAllowed)
    }

    @Test func subjectsSeparateCountersPerIPOwnerAndGlobal() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "shared", limits: [
            Limit(name: "per-ip", strategy: .fixedWindow, quantity: 1, windowMicroseconds: 60_000_000, subject: .custom("ip")),
            Limit(name: "per-owner", strategy: .fixedWindow, quantity: 3, windowMicroseconds: 60_000_000, subject: .owner),
            Limit(name: "everyone", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 60_000_000, subject: .global),
        ]))
        let a1 = try fixture.key(NewKey(owner: "a", tier: "shared"))
        let a2 = try fixture.key(NewKey(owner: "a", tier: "shared"))
        let b = try fixture.key(NewKey(owner: "b", tier: "shared"))
        #expect(try fixture.store.authorize(key: a1.secret, subjects: ["ip": "10.0.0.1"]).isAllowed)
        #expect(try fixture.store.authorize(key: a1.secret, subjects: ["ip": "10.0.0.1"]).outcome == .rateLimited)
        #expect(try fixture.store.authorize(key: a2.secret, subjects: ["ip": "10.0.0.2"]).isAllowed)
        #expect(try fixture.store.authorize(key: a2.secret, subjects: ["ip": "10.0.0.3"]).isAllowed)
        // Owner a has used 3: a's keys are refused on any IP, b is not.
        let ownerRefused = try fixture.store.authorize(key: a1.secret, subjects: ["ip": "10.0.0.4"])
        #expect(ownerRefused.outcome == .rateLimited)
        #expect(ownerRefused.limits.first { !$0.allowed }?.name == "per-owner")
        #expect(try fixture.store.authorize(key: b.secret, subjects: ["ip": "10.0.0.5"]).isAllowed)
        #expect(try fixture.store.authorize(key: b.secret, subjects: ["ip": "10.0.0.6"]).isAllowed)
        // Global: 5 used.
        let globalRefused = try fixture.store.authorize(key: b.secret, subjects: ["ip": "10.0.0.7"])
        #expect(globalRefused.limits.first { !$0.allowed }?.name == "everyone")
        #expect((#expect(throws: TollgateError.self) { try fixture.store.authorize(key: b.secret) })?.code == .missingSubject)
        do {
            _ = try fixture.store.authorize(key: b.secret)
        } catch TollgateError.missingSubject {
        } catch {
            Issue.record("expected missingSubject, got \(error)")
        }
    }

    @Test func creditsAreDebitedRefilledAndExhausted() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "metered", limits: []))
        let key = try fixture.key(NewKey(owner: "acme", tier: "metered", credits: 3, refill: CreditRefill(amount: 5, period: .day)))
        #expect(try fixture.store.authorize(key: key.secret, cost: 2).creditsRemaining == 1)
        let refused = try fixture.store.authorize(key: key.secret, cost: 2)
        #expect(refused.outcome == .creditsExhausted)
        #expect(refused.creditsRemaining == 1)
        #expect(try fixture.store.authorize(key: key.secret, cost: 1).creditsRemaining == 0)
        fixture.clock.advance(by: .seconds(86_400))
        let refilled = try fixture.store.authorize(key: key.secret, cost: 1)
        #expect(refilled.isAllowed)
        #expect(refilled.creditsRemaining == 4)
        try fixture.store.addCredits(10, toKey: key.info.id)
        #expect(try fixture.store.key(id: key.info.id)?.credits == 14)
    }

    @Test func peekConsumesNothing() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        // peek reports what is left now; authorize what is left after the request.
        for _ in 0..<5 { #expect(try fixture.store.peek(key: key.secret).limits[0].remaining == 2) }
        #expect(try fixture.store.authorize(key: key.secret).limits[0].remaining == 1)
        #expect(try fixture.store.peek(key: key.secret).limits[0].remaining == 1)
        #expect(try fixture.store.authorize(key: key.secret).limits[0].remaining == 0)
        let refused = try fixture.store.peek(key: key.secret)
        #expect(refused.outcome == .rateLimited)
        #expect(refused.limits[0].remaining == 0)
    }

    @Test func refundGivesTheCostBack() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "metered", limits: [.perMinute(2)]))
        let key = try fixture.key(NewKey(owner: "acme", tier: "metered", credits: 10))
        let decision = try fixture.store.authorize(key: key.secret, cost: 2)
        #expect(decision.isAllowed)
        #expect(try fixture.store.authorize(key: key.secret).outcome == .rateLimited)
        try fixture.store.refund(decision)
        let after = try fixture.store.peek(key: key.secret)
        #expect(after.limits[0].remaining == 2)
        #expect(after.creditsRemaining == 10)
        let usage = try fixture.store.usage(keyID: key.info.id, now: fixture.clock.now())
        #expect(usage.last?.consumed == 0)
        #expect(usage.last?.allowed == 1)
        // Refunding a refusal does nothing.
        try fixture.store.refund(try fixture.store.authorize(key: key.secret, cost: 5))
        #expect(try fixture.store.peek(key: key.secret).limits[0].remaining == 2)
    }

    @Test func resetClearsOneSubjectsCounters() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let a = try fixture.key()
        let b = try fixture.key()
        for _ in 0..<2 {
            _ = try fixture.store.authorize(key: a.secret)
            _ = try fixture.store.authorize(key: b.secret)
        }
        #expect(try fixture.store.resetCounters(.key(id: a.info.id)) == 2)
        #expect(try fixture.store.peek(key: a.secret).limits[0].remaining == 2)
        #expect(try fixture.store.peek(key: b.secret).limits[0].remaining == 0)
    }

    @Test func usageLedgerCountsAllowedAndDenied() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        for _ in 0..<5 { _ = try fixture.store.authorize(key: key.secret) }
        // Denied counts are flushed with the next commit.
        _ = try fixture.store.createKey(NewKey(owner: "other", tier: "free"))
        let usage = try fixture.store.usage(keyID: key.info.id, now: fixture.clock.now())
        #expect(usage.count == 1)
        #expect(usage[0].allowed == 2)
        #expect(usage[0].denied == 3)
        #expect(usage[0].consumed == 2)
    }

    @Test func recentlyRefusedKeysAreAnsweredFromASnapshotAndStayExact() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        _ = try fixture.store.authorize(key: key.secret)
        _ = try fixture.store.authorize(key: key.secret)
        for _ in 0..<10 { #expect(try fixture.store.authorize(key: key.secret).outcome == .rateLimited) }
        // Another process (here: an admin reset) frees the key: the snapshot path sees it at once.
        try fixture.store.resetCounters(.key(id: key.info.id))
        #expect(try fixture.store.authorize(key: key.secret).isAllowed)
    }

    @Test func concurrentAsyncCallersNeverOverAdmit() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "hour", limits: [.perHour(100)]))
        let key = try fixture.key(NewKey(owner: "acme", tier: "hour"))
        let store = fixture.store
        let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<300 {
                group.addTask { try await store.authorize(key: key.secret).isAllowed }
            }
            var count = 0
            for try await isAllowed in group where isAllowed { count += 1 }
            return count
        }
        #expect(allowed == 100)
    }
}
