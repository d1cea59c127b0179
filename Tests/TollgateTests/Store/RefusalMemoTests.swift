import Foundation
import Synchronization
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// The refusal memo's promise is that a key refused a moment ago is answered from a read snapshot,
/// without the write lock. A test that only checks the answer passes with the memo switched off
/// (the write path gives the same answer), so these hold LMDB's write lock on another thread and
/// require the refusal to arrive while it is still held.
@Suite struct RefusalMemoTests {
    /// Holds the store's write lock on a thread of its own until `release()` or `limit` passes.
    final class WriteLockHolder: Sendable {
        private let holding = Atomic<Bool>(false)
        private let released = Atomic<Bool>(false)

        init(_ environment: Environment, limit: Duration = .seconds(5)) {
            let started = DispatchSemaphore(value: 0)
            Thread.detachNewThread { [self] in
                try? environment.write { _ in
                    holding.store(true, ordering: .sequentiallyConsistent)
                    started.signal()
                    let deadline = ContinuousClock.now.advanced(by: limit)
                    while !released.load(ordering: .sequentiallyConsistent) && ContinuousClock.now < deadline {
                        Thread.sleep(forTimeInterval: 0.005)
                    }
                    holding.store(false, ordering: .sequentiallyConsistent)
                }
            }
            started.wait()
        }

        var isHolding: Bool { holding.load(ordering: .sequentiallyConsistent) }
        func release() { released.store(true, ordering: .sequentiallyConsistent) }
    }

    @Test func aRecentlyRefusedKeyIsAnsweredWhileAnotherThreadHoldsTheWriteLock() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        let request = AuthorizationRequest(key: key.secret)
        _ = try fixture.store.authorize(synchronously: request)
        _ = try fixture.store.authorize(synchronously: request)
        #expect(try fixture.store.authorize(synchronously: request).outcome == .rateLimited)

        let holder = WriteLockHolder(fixture.store.environment)
        defer { holder.release() }
        let synchronous = try fixture.store.authorize(synchronously: request)
        #expect(synchronous.outcome == .rateLimited)
        #expect(holder.isHolding, "the synchronous refusal waited for the write lock")
        let viaTheWriter = try await fixture.store.authorize(key: key.secret)
        #expect(viaTheWriter.outcome == .rateLimited)
        #expect(holder.isHolding, "the group-commit refusal waited for the write lock")
    }

    /// The other side: a key not refused recently does need the lock, so the holder above proves
    /// something (without this, a holder that never held the lock would pass the test above).
    @Test func aFreshKeyWaitsForTheWriteLock() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        let holder = WriteLockHolder(fixture.store.environment, limit: .milliseconds(300))
        defer { holder.release() }
        let decision = try fixture.store.authorize(key: key.secret)
        #expect(decision.isAllowed)
        #expect(!holder.isHolding)
    }
}
