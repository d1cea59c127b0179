#if DEBUG
import Foundation
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// Storage faults inside a group-commit *batch* (the async path): FaultTests covers the
/// synchronous path only. Docs/durability.md promises that a failed batch fails every request in
/// it, commits nothing, and that denied counts carried by a batch are written exactly once —
/// not lost when the batch fails, not doubled when it is retried after map growth.
///
/// The faults are armed for the store's environment (they fire on the writer thread). Each test
/// proves its fault fired: by the errors the requests got, or, for the retried batch, by the
/// map growth it caused.
@Suite(.serialized) struct GroupCommitFaultTests {
    struct Setup {
        let temporary: TemporaryStore
        let busy: IssuedKey
        let refused: IssuedKey
        var store: Store { temporary.store }
        var path: String { temporary.store.options.path }
    }

    /// A store with a key allowed 1 000 an hour (`busy`) and one allowed 1 an hour (`refused`)
    /// that is refused three times: three denials wait in memory for the next commit.
    static func setUp(_ configure: (inout Store.Options) -> Void = { _ in }) async throws -> Setup {
        let temporary = try TemporaryStore(configure)
        let store = temporary.store
        try store.setTier(Tier(name: "busy", limits: [.perHour(1_000)]))
        try store.setTier(Tier(name: "one", limits: [.perHour(1)]))
        let busy = try store.createKey(NewKey(owner: "acme", tier: "busy"))
        let refused = try store.createKey(NewKey(owner: "acme", tier: "one"))
        #expect(try await store.authorize(key: busy.secret).isAllowed) // the writer is warm
        let refusedRequest = AuthorizationRequest(key: refused.secret)
        #expect(try store.authorize(synchronously: refusedRequest).isAllowed)
        for _ in 0..<3 { #expect(try store.authorize(synchronously: refusedRequest).outcome == .rateLimited) }
        return Setup(temporary: temporary, busy: busy, refused: refused)
    }

    /// `count` concurrent requests queued behind a held write lock, so that they are answered in
    /// shared batches; `whileQueued` runs once they are all in the queue, before the lock goes.
    static func queuedRequests(_ setup: Setup, count: Int, whileQueued: () -> Void) async -> [Result<Decision, TollgateError>] {
        let store = setup.store
        let secret = setup.busy.secret
        let lock = RefusalMemoTests.WriteLockHolder(store.environment, limit: .seconds(20))
        return await withTaskGroup(of: Result<Decision, TollgateError>.self) { group in
            for _ in 0..<count {
                group.addTask {
                    do throws(TollgateError) { return .success(try await store.authorize(key: secret)) } catch { return .failure(error) }
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
            whileQueued()
            lock.release()
            var all: [Result<Decision, TollgateError>] = []
            for await result in group { all.append(result) }
            return all
        }
    }

    func deniedCount(_ setup: Setup) throws -> UInt64? {
        try setup.store.usage(keyID: setup.refused.info.id, now: setup.temporary.clock.now()).last?.denied
    }

    @Test(arguments: [(LMDBOperation.put, LMDBError.noSpace), (.put, .ioError), (.commit, .ioError)])
    func aFailedBatchFailsEveryRequestAndCommitsNothing(operation: LMDBOperation, fault: LMDBError) async throws {
        let setup = try await Self.setUp()
        defer { setup.temporary.remove() }
        let before = try setup.store.peek(key: setup.busy.secret).limits[0].remaining
        let batchesBefore = setup.store.writer.statistics.batches

        let results = await Self.queuedRequests(setup, count: 24) {
            FaultInjection.inject(fault, into: operation, forEnvironmentAt: setup.path, repeats: true)
        }
        FaultInjection.clear(forEnvironmentAt: setup.path)

        #expect(results.count == 24)
        for result in results {
            switch result {
            case .success(let decision): Issue.record("a request of a failed batch was answered: \(decision.outcome)")
            case .failure(let error): #expect(error.code == .storage, "\(error)")
            }
        }
        #expect(setup.store.writer.statistics.batches == batchesBefore, "no batch committed")
        #expect(try setup.store.peek(key: setup.busy.secret).limits[0].remaining == before, "no counter moved")
        #expect(try deniedCount(setup) == 0, "the denials were not written by a failed batch")

        // The fault gone, the next batch writes the three denials, once.
        #expect(try await setup.store.authorize(key: setup.busy.secret).isAllowed)
        #expect(try setup.store.peek(key: setup.busy.secret).limits[0].remaining == before - 1)
        #expect(try deniedCount(setup) == 3)
        #expect(try await setup.store.authorize(key: setup.busy.secret).isAllowed)
        #expect(try deniedCount(setup) == 3)
    }

    @Test func aBatchRetriedAfterMapGrowthWritesEverythingOnce() async throws {
        let setup = try await Self.setUp()
        defer { setup.temporary.remove() }
        let before = try setup.store.peek(key: setup.busy.secret).limits[0].remaining
        let mapBefore = setup.store.environment.info().mapSize

        // One MAP_FULL on the batch's first put: the writer grows the map and runs the batch again.
        let results = await Self.queuedRequests(setup, count: 24) {
            FaultInjection.inject(.mapFull, into: .put, forEnvironmentAt: setup.path)
        }
        FaultInjection.clear(forEnvironmentAt: setup.path)

        #expect(setup.store.environment.info().mapSize > mapBefore, "the fault fired: the map grew")
        let allowed = results.filter { (try? $0.get().isAllowed) == true }.count
        #expect(allowed == 24, "\(results.compactMap { try? $0.get().outcome })")
        #expect(try setup.store.peek(key: setup.busy.secret).limits[0].remaining == before - 24, "each request counted once")
        #expect(try setup.store.usage(keyID: setup.busy.info.id, now: setup.temporary.clock.now()).last?.allowed == 25)
        #expect(try deniedCount(setup) == 3, "the denials were written once, not once per attempt")
    }
}
#endif
