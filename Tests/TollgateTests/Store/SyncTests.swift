#if DEBUG // Environment.syncCount exists only in debug builds.
import Foundation
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// Durability observed where it happens: syncs counted at the LMDB layer
/// (`Environment.syncCount`: durable commits that wrote, and flushing `mdb_env_sync` calls).
/// A power cut cannot be simulated here, and `kill -9` cannot tell a synced commit from one
/// still in the page cache — so these are the tests that see the difference between the modes.
@Suite("Syncs")
struct SyncTests {
    /// A store without background sweeps (they would write at times of their own).
    private func makeStore(_ durability: Store.Durability) throws -> TemporaryStore {
        try TemporaryStore { options in
            options.durability = durability
            options.sweepInterval = nil
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func durableDecisionsAreSyncedBeforeTheyAreAnswered() async throws {
        let temporary = try makeStore(.durable)
        defer { temporary.remove() }
        let store = temporary.store
        let environment = store.environment
        try store.setTier(Tier(name: "roomy", limits: [.perHour(1_000)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "roomy"))
        let throttle = try Limit(spec: "anonymous=1000/hour,by=ip")
        for round in 0..<5 {
            var before = environment.syncCount
            #expect(try await store.authorize(key: key.secret).isAllowed)
            #expect(environment.syncCount > before, "async authorize \(round) answered before a sync")
            before = environment.syncCount
            #expect(try store.authorize(synchronously: AuthorizationRequest(key: key.secret)).isAllowed)
            #expect(environment.syncCount > before, "synchronous authorize \(round) answered before a sync")
            before = environment.syncCount
            #expect(try await store.throttle([throttle], subjects: ["ip": "203.0.113.7"]).isAllowed)
            #expect(environment.syncCount > before, "throttle \(round) answered before a sync")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func periodicDecisionsAreNotSyncedOneByOne() async throws {
        let temporary = try makeStore(.periodic(interval: .seconds(3_600)))
        defer { temporary.remove() }
        let store = temporary.store
        let environment = store.environment
        try store.setTier(Tier(name: "one", limits: [.perHour(10)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "one"))
        let before = environment.syncCount
        for _ in 0..<8 {
            _ = try await store.authorize(key: key.secret)
            _ = try store.authorize(synchronously: AuthorizationRequest(key: key.secret))
        }
        #expect(try store.peek(key: key.secret).outcome == .rateLimited)
        // Decisions, refusals and their denied counts wait for the timer.
        #expect(environment.syncCount == before)
    }

    @Test(.timeLimit(.minutes(1)))
    func periodicModeSyncsOnItsTimer() async throws {
        let temporary = try makeStore(.periodic(interval: .milliseconds(20)))
        defer { temporary.remove() }
        let store = temporary.store
        let environment = store.environment
        try store.setTier(Tier(name: "roomy", limits: [.perHour(1_000)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "roomy"))
        #expect(try await store.authorize(key: key.secret).isAllowed)
        // Nothing else writes or syncs from here on: only the background loop can move the count.
        let before = environment.syncCount
        let deadline = ContinuousClock.now + .seconds(20)
        while environment.syncCount < before + 3 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(environment.syncCount >= before + 3, "the background sync did not run")
        #expect(store.periodicSyncFailure == nil)
    }

    /// Periodic mode relaxes decisions only: every admin write is on disk before it returns —
    /// a revocation made just before a power cut must not come back.
    @Test(.timeLimit(.minutes(1)), arguments: [Store.Durability.durable, .periodic(interval: .seconds(3_600))])
    func everyAdminWriteIsSyncedBeforeItReturns(durability: Store.Durability) async throws {
        let temporary = try makeStore(durability)
        defer { temporary.remove() }
        let store = temporary.store
        let environment = store.environment
        #expect(environment.syncCount > 0, "store creation was not synced")

        func expectSynced(_ what: String, _ write: () throws -> Void) rethrows {
            let before = environment.syncCount
            try write()
            #expect(environment.syncCount > before, "\(what) returned before a sync")
        }
        try expectSynced("setTier") { try store.setTier(Tier(name: "free", limits: [.perHour(10)])) }
        try expectSynced("applyTiers") { try store.applyTiers([Tier(name: "pro", limits: [.perHour(100)])]) }
        var issued: IssuedKey?
        try expectSynced("createKey") { issued = try store.createKey(NewKey(owner: "acme", tier: "free")) }
        let id = try #require(issued).info.id
        try expectSynced("importKey") {
            _ = try store.importKey(hash: Array(repeating: 7, count: 32), displayPrefix: "tg_live_imp", NewKey(owner: "acme", tier: "free"))
        }
        try expectSynced("setTier(ofKey:)") { try store.setTier(ofKey: id, to: "pro") }
        try expectSynced("addCredits") { try store.addCredits(5, toKey: id) }
        try expectSynced("setLimitOverrides") { try store.setLimitOverrides([.perMinute(3)], forKey: id) }
        try expectSynced("rotateKey") { _ = try store.rotateKey(id: id, grace: .seconds(60)) }
        try expectSynced("disableKey") { try store.disableKey(id: id) }
        try expectSynced("enableKey") { try store.enableKey(id: id) }
        try expectSynced("resetCounters") { _ = try store.resetCounters(.key(id: id)) }
        try expectSynced("revokeKey") { try store.revokeKey(id: id) }
        try expectSynced("removeTier") { try store.removeTier(named: "pro", movingKeysTo: "free") }
    }

    /// A new store's first commits (its tables, its meta record) are on disk before `init`
    /// returns in either mode: a store cut off before its first periodic sync used to come back
    /// as an empty data file.
    @Test(arguments: [Store.Durability.durable, .periodic(interval: .seconds(3_600))])
    func creatingAStoreSyncsButOpeningOneDoesNot(durability: Store.Durability) throws {
        let temporary = try makeStore(durability)
        defer { temporary.remove() }
        #expect(temporary.store.environment.syncCount > 0)
        let reopened = try temporary.reopen()
        if case .periodic = durability {
            #expect(reopened.environment.syncCount == 0, "opening an existing store wrote")
        }
    }
}
#endif
