import Testing
@testable import Tollgate
import TollgateTestSupport

@Suite struct KeyLifecycleTests {
    @Test func createReadListByIDAndOwner() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key(NewKey(owner: "acme", tier: "free", name: "ci", scopes: ["a"], metadata: ["env": "prod"]))
        let stored = try #require(try fixture.store.key(id: key.info.id))
        #expect(stored == key.info)
        #expect(stored.metadata == ["env": "prod"])
        #expect(stored.displayPrefix == String(key.secret.prefix(12)) + "…")
        _ = try fixture.key(NewKey(owner: "acme", tier: "free"))
        _ = try fixture.key(NewKey(owner: "acme2", tier: "free"))
        #expect(try fixture.store.keys(owner: "acme").count == 2)
        #expect(try fixture.store.keys(owner: "acme2").count == 1)
        #expect(try fixture.store.keys(owner: "acm").isEmpty)
        #expect(try fixture.store.allKeys().count == 3)
        let firstPage = try fixture.store.allKeys(limit: 2)
        let secondPage = try fixture.store.allKeys(after: firstPage.last?.id, limit: 2)
        #expect(firstPage.count == 2 && secondPage.count == 1)
        #expect(Set((firstPage + secondPage).map(\.id)).count == 3)
        #expect(try fixture.store.key(id: "key_doesnotexist0000") == nil)
        #expect(try fixture.store.key(id: "garbage") == nil)
    }

    @Test func creatingOnAMissingTierOrWithBadInputFails() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        #expect((#expect(throws: TollgateError.self) { try fixture.key(NewKey(owner: "acme", tier: "gold")) })?.code == .notFound)
        #expect((#expect(throws: TollgateError.self) { try fixture.key(NewKey(owner: "", tier: "free")) })?.code == .invalidArgument)
        #expect((#expect(throws: TollgateError.self) { try fixture.key(NewKey(owner: "a\u{0}b", tier: "free")) })?.code == .invalidArgument)
        #expect((#expect(throws: TollgateError.self) { try fixture.key(NewKey(owner: String(repeating: "o", count: 300), tier: "free")) })?.code == .invalidArgument)
        #expect((#expect(throws: TollgateError.self) { try fixture.key(NewKey(owner: "acme", tier: "free", scopes: Array(repeating: "s", count: 65))) })?.code == .invalidArgument)
    }

    @Test func revokeIsImmediateAndFinal() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        #expect(try fixture.store.authorize(key: key.secret).isAllowed)
        try fixture.store.revokeKey(id: key.info.id)
        #expect(try fixture.store.authorize(key: key.secret).outcome == .revoked)
        #expect((#expect(throws: TollgateError.self) { try fixture.store.enableKey(id: key.info.id) })?.code == .invalidArgument)
        #expect(try fixture.store.key(id: key.info.id)?.revokedAt == fixture.clock.now())
    }

    @Test func disableAndEnable() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        try fixture.store.disableKey(id: key.info.id)
        #expect(try fixture.store.authorize(key: key.secret).outcome == .disabled)
        try fixture.store.enableKey(id: key.info.id)
        #expect(try fixture.store.authorize(key: key.secret).isAllowed)
    }

    @Test func expiryIsEnforcedToTheMicrosecond() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let expiry = fixture.clock.now().adding(microseconds: 10_000_000)
        let key = try fixture.key(NewKey(owner: "acme", tier: "free", expiresAt: expiry))
        fixture.clock.set(expiry.adding(microseconds: -1))
        #expect(try fixture.store.authorize(key: key.secret).isAllowed)
        fixture.clock.set(expiry)
        #expect(try fixture.store.authorize(key: key.secret).outcome == .expired)
    }

    @Test func changingTierTakesEffectAtOnce() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "pro", limits: [.perSecond(100)]))
        let key = try fixture.key()
        _ = try fixture.store.authorize(key: key.secret)
        _ = try fixture.store.authorize(key: key.secret)
        #expect(try fixture.store.authorize(key: key.secret).outcome == .rateLimited)
        try fixture.store.setTier(ofKey: key.info.id, to: "pro")
        let decision = try fixture.store.authorize(key: key.secret)
        #expect(decision.isAllowed)
        #expect(decision.key?.tier == "pro")
        // The "second" counter carried over: 2 used before, 1 now.
        #expect(decision.limits[0].remaining == 97)
        #expect((#expect(throws: TollgateError.self) { try fixture.store.setTier(ofKey: key.info.id, to: "nope") })?.code == .notFound)
    }

    @Test func rotationKeepsEverythingAndHonoursTheGracePeriodToTheMicrosecond() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "metered", limits: [.perMinute(10)]))
        let expiry = fixture.clock.now().adding(microseconds: 3_600_000_000)
        let old = try fixture.key(NewKey(owner: "acme", tier: "metered", scopes: ["x"], expiresAt: expiry, credits: 50))
        #expect(try fixture.store.authorize(key: old.secret).isAllowed)
        let rotatedAt = fixture.clock.now()
        let new = try fixture.store.rotateKey(id: old.info.id, grace: .seconds(30))
        #expect(new.secret != old.secret)
        #expect(new.info.id == old.info.id)
        #expect(new.info.tier == "metered" && new.info.scopes == ["x"] && new.info.expiresAt == expiry, "a rotated trial key stays a trial key")
        #expect(new.info.credits == 49)
        let viaNew = try fixture.store.authorize(key: new.secret)
        #expect(viaNew.isAllowed)
        #expect(viaNew.limits[0].remaining == 8, "counters carry over")
        #expect(viaNew.creditsRemaining == 48)
        fixture.clock.set(rotatedAt.adding(microseconds: 30_000_000 - 1))
        let viaOld = try fixture.store.authorize(key: old.secret)
        #expect(viaOld.isAllowed)
        #expect(viaOld.key?.id == old.info.id)
        #expect(viaOld.creditsRemaining == 47, "both secrets draw on one key")
        fixture.clock.set(rotatedAt.adding(microseconds: 30_000_000))
        #expect(try fixture.store.authorize(key: old.secret).outcome == .revoked)
        #expect(try fixture.store.authorize(key: new.secret).isAllowed)
    }

    @Test func rotationWithoutGraceRetiresTheOldKeyAtOnce() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let old = try fixture.key()
        let new = try fixture.store.rotateKey(id: old.info.id)
        #expect(try fixture.store.authorize(key: old.secret).outcome == .unknownKey)
        #expect(try fixture.store.authorize(key: new.secret).isAllowed)
        try fixture.store.revokeKey(id: old.info.id)
        #expect((#expect(throws: TollgateError.self) { try fixture.store.rotateKey(id: old.info.id) })?.code == .invalidArgument)
    }

    @Test func revokingDuringGraceRefusesBothSecrets() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let old = try fixture.key()
        let new = try fixture.store.rotateKey(id: old.info.id, grace: .seconds(60))
        try fixture.store.revokeKey(id: old.info.id)
        #expect(try fixture.store.authorize(key: old.secret).outcome == .revoked)
        #expect(try fixture.store.authorize(key: new.secret).outcome == .revoked)
    }

    @Test func lastUsedIsCoarse() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        let start = fixture.clock.now()
        _ = try fixture.store.authorize(key: key.secret)
        #expect(try fixture.store.key(id: key.info.id)?.lastUsedAt == start)
        fixture.clock.advance(by: .seconds(30))
        _ = try fixture.store.authorize(key: key.secret)
        #expect(try fixture.store.key(id: key.info.id)?.lastUsedAt == start, "not rewritten within the resolution")
        fixture.clock.advance(by: .seconds(31))
        _ = try fixture.store.authorize(key: key.secret)
        #expect(try fixture.store.key(id: key.info.id)?.lastUsedAt == fixture.clock.now())
    }

    @Test func everyLifecycleChangeIsAuditedWithoutSecrets() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "pro", limits: [.perSecond(100)]))
        let key = try fixture.key()
        try fixture.store.disableKey(id: key.info.id, actor: "alice")
        try fixture.store.enableKey(id: key.info.id)
        try fixture.store.setTier(ofKey: key.info.id, to: "pro")
        try fixture.store.addCredits(5, toKey: key.info.id)
        let rotated = try fixture.store.rotateKey(id: key.info.id, grace: .seconds(5))
        try fixture.store.revokeKey(id: key.info.id)
        let events = try fixture.store.auditEvents()
        let kinds = events.map(\.kind)
        #expect(kinds.starts(with: [.storeCreated, .tierSet, .tierSet, .keyCreated, .keyDisabled, .keyEnabled, .keyTierChanged, .keyCreditsAdded, .keyRotated, .keyRevoked]))
        #expect(events.first { $0.kind == .keyDisabled }?.actor == "alice")
        #expect(events.first { $0.kind == .keyEnabled }?.actor == "api")
        for event in events {
            let text = "\(event)"
            #expect(!text.contains(key.secret.dropFirst(8).prefix(10)))
            #expect(!text.contains(rotated.secret.dropFirst(8).prefix(10)))
        }
    }

    @Test func thePlaintextKeyIsNeverOnDisk() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        var secrets: [String] = []
        for index in 0..<20 {
            let key = try fixture.key(NewKey(owner: "owner\(index)", tier: "free"))
            secrets.append(key.secret)
            _ = try fixture.store.authorize(key: key.secret)
            secrets.append(try fixture.store.rotateKey(id: key.info.id, grace: .seconds(60)).secret)
        }
        fixture.store.close()
        let bytes = try fixture.temporary.rawFileContents()
        for secret in secrets {
            // The body (after the public prefix and the shown 4 characters) must appear nowhere.
            let body = Array(secret.utf8.dropFirst(12))
            #expect(!contains(bytes, body), "a key body was found in the store files")
        }
        // And the check above can fail: a body planted as metadata is found.
        let (planted, probe) = try {
            let temporary = try Fixture()
            defer { temporary.remove() }
            let key = try temporary.key()
            try temporary.store.setLimitOverrides([], forKey: key.info.id)
            _ = try temporary.store.createKey(NewKey(owner: "x", tier: "free", metadata: ["leak": key.secret]))
            temporary.store.close()
            return (try temporary.temporary.rawFileContents(), Array(key.secret.utf8.dropFirst(12)))
        }()
        #expect(contains(planted, probe))
    }

    @Test func issuedKeyNeverPrintsItsSecret() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        #expect(!"\(key)".contains(key.secret))
        #expect(!String(reflecting: key).contains(key.secret))
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        let first = needle[0]
        var index = 0
        while index <= haystack.count - needle.count {
            if haystack[index] == first, haystack[index..<index + needle.count].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
