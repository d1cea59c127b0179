import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// A damaged usage-ledger record stays the problem of that record: the denied counts meant for
/// it are skipped (and counted), every other write of the process goes on, and `check` shows it.
@Suite("Damaged usage records")
struct DamagedUsageTests {
    /// Overwrites the usage record of `keyID` for the store clock's day with bytes that no
    /// version of the format decodes.
    private func damageUsage(of keyID: String, _ temporary: TemporaryStore) throws {
        let store = temporary.store
        let key = DailyUsage.tableKey(keyID: keyID, day: temporary.clock.now().daysSinceEpoch)
        try store.environment.write { txn in try txn.put([0xFF], forKey: key, in: store.tables.usage) }
    }

    @Test(.timeLimit(.minutes(1)))
    func aDeniedCountForADamagedRecordIsSkippedAndEveryOtherWriteGoesOn() async throws {
        let temporary = try TemporaryStore { $0.sweepInterval = nil }
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "one", limits: [.perHour(1)]))
        try store.setTier(Tier(name: "roomy", limits: [.perHour(1_000)]))
        let damaged = try store.createKey(NewKey(owner: "acme", tier: "one"))
        let healthy = try store.createKey(NewKey(owner: "acme", tier: "roomy"))
        #expect(try await store.authorize(key: damaged.secret).isAllowed)
        try damageUsage(of: damaged.info.id, temporary)
        #expect(store.skippedDeniedCounts == 0)

        // Refused: a denied count for the damaged record is now pending.
        #expect(try await store.authorize(key: damaged.secret).outcome == .rateLimited)

        // Every kind of write still works: an admin write, a batched and a synchronous decision.
        let created = try store.createKey(NewKey(owner: "acme", tier: "roomy"))
        #expect(try await store.authorize(key: healthy.secret).isAllowed)
        #expect(try store.authorize(synchronously: AuthorizationRequest(key: healthy.secret)).isAllowed)
        #expect(try await store.authorize(key: created.secret).isAllowed)
        #expect(store.skippedDeniedCounts == 1)

        // Other keys' denials are still written; the skipped one is not retried forever.
        try store.setTier(Tier(name: "roomy", limits: [.perHour(2)]))
        #expect(try await store.authorize(key: healthy.secret).outcome == .rateLimited)
        #expect(try store.authorize(synchronously: AuthorizationRequest(key: damaged.secret)).outcome == .rateLimited)
        try store.setTier(Tier(name: "spare", limits: [.perHour(1)]))
        #expect(store.skippedDeniedCounts == 2)
        #expect(try store.usage(keyID: healthy.info.id, now: temporary.clock.now()).last?.denied == 1)

        // The damage is reported, not repaired behind anyone's back.
        let findings = try store.check()
        #expect(findings.contains { $0.table == "usage" }, "\(findings)")
        let reopened = try temporary.reopen()
        #expect(try reopened.check().contains { $0.table == "usage" })
    }

    @Test(.timeLimit(.minutes(1)))
    func aDeniedCountSkippedInAClosingStoreDoesNotStopTheClose() throws {
        let temporary = try TemporaryStore { $0.sweepInterval = nil }
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "one", limits: [.perHour(1)]))
        let damaged = try store.createKey(NewKey(owner: "acme", tier: "one"))
        let other = try store.createKey(NewKey(owner: "acme", tier: "one"))
        #expect(try store.authorize(synchronously: AuthorizationRequest(key: damaged.secret)).isAllowed)
        #expect(try store.authorize(synchronously: AuthorizationRequest(key: other.secret)).isAllowed)
        try damageUsage(of: damaged.info.id, temporary)
        #expect(try store.authorize(synchronously: AuthorizationRequest(key: damaged.secret)).outcome == .rateLimited)
        #expect(try store.authorize(synchronously: AuthorizationRequest(key: other.secret)).outcome == .rateLimited)
        // Both denials are pending; the close writes the one that can be written.
        let reopened = try temporary.reopen()
        #expect(try reopened.usage(keyID: other.info.id, now: temporary.clock.now()).last?.denied == 1)
    }
}
