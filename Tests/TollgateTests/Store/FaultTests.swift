#if DEBUG
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// Storage faults during a decision: a clear error, no partial state, and the store works again
/// once the fault clears. Faults fire only on the thread that injects them, so these tests use
/// the synchronous API (which runs on the calling thread).
@Suite(.serialized) struct FaultTests {
    @Test(arguments: [LMDBError.noSpace, LMDBError.ioError, LMDBError.mapFull])
    func aFailedWriteLeavesNothingBehind(_ fault: LMDBError) throws {
        let fixture = try Fixture { $0.maxMapSize = 64 << 20 }
        defer { fixture.remove() }
        let key = try fixture.key(NewKey(owner: "acme", tier: "free", credits: 10))
        #expect(try fixture.store.authorize(key: key.secret).isAllowed)
        let before = try fixture.store.peek(key: key.secret)

        // The second put of the decision (after one counter was written) fails.
        FaultInjection.inject(fault, into: .put, afterCalls: 1, repeats: fault == .mapFull)
        let error = #expect(throws: TollgateError.self) { _ = try fixture.store.authorize(key: key.secret) as Decision }
        FaultInjection.clear()
        #expect(error?.code == .storage)
        #expect(!(error?.description.contains(key.secret) ?? true))

        let after = try fixture.store.peek(key: key.secret)
        #expect(after.limits.map(\.remaining) == before.limits.map(\.remaining), "no counter changed")
        #expect(after.creditsRemaining == before.creditsRemaining, "no credit was debited")
        #expect(try fixture.store.authorize(key: key.secret).isAllowed, "the store works again")
    }

    @Test func aFailedCommitLeavesNothingBehind() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        FaultInjection.inject(.ioError, into: .commit)
        let error = #expect(throws: TollgateError.self) { _ = try fixture.store.authorize(key: key.secret) as Decision }
        FaultInjection.clear()
        #expect(error?.code == .storage)
        #expect(try fixture.store.peek(key: key.secret).limits[0].remaining == 2)
        #expect(try fixture.store.usage(keyID: key.info.id, now: fixture.clock.now()).isEmpty)
        #expect(try fixture.store.authorize(key: key.secret).isAllowed)
    }

    @Test func aFailingPeriodicSyncIsReported() async throws {
        let fixture = try Fixture { $0.durability = .periodic(interval: .milliseconds(10)) }
        defer { fixture.remove() }
        #expect(fixture.store.periodicSyncFailure == nil)
        // The sync runs on a thread of its own: arm the fault for this store's environment.
        let path = fixture.store.options.path
        FaultInjection.inject(.ioError, into: .sync, forEnvironmentAt: path, repeats: true)
        defer { FaultInjection.clear(forEnvironmentAt: path) }
        var failure: TollgateError?
        for _ in 0..<200 where failure == nil {
            try await Task.sleep(for: .milliseconds(10))
            failure = fixture.store.periodicSyncFailure
        }
        #expect(failure?.code == .storage)
        FaultInjection.clear(forEnvironmentAt: path)
        var recovered = false
        for _ in 0..<200 where !recovered {
            try await Task.sleep(for: .milliseconds(10))
            recovered = fixture.store.periodicSyncFailure == nil
        }
        #expect(recovered)
    }

    @Test func aFailedLifecycleChangeIsNotHalfDone() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        // Rotation writes several records; fail the third.
        FaultInjection.inject(.noSpace, into: .put, afterCalls: 2)
        #expect((#expect(throws: TollgateError.self) { _ = try fixture.store.rotateKey(id: key.info.id, grace: .seconds(60)) })?.code == .storage)
        FaultInjection.clear()
        #expect(try fixture.store.authorize(key: key.secret).isAllowed, "the old secret is still the key")
        #expect(try fixture.store.auditEvents().filter { $0.kind == .keyRotated }.isEmpty)
    }
}
#endif
