import Foundation
import Testing
@testable import Tollgate
import TollgateTestSupport

/// A `Store` that is dropped without `close()` still closes — whichever thread lets go of it
/// last, the group-commit writer's own included.
@Suite("Releasing a store")
struct StoreReleaseTests {
    /// A store in a fresh directory with one key; returns the options to open it and the key.
    private func prepare() throws -> (Store.Options, String) {
        var options = Store.Options(path: TemporaryStore.makeDirectory(prefix: "tollgate-release") + "/store")
        options.sweepInterval = nil
        let store = try Store(options: options)
        defer { store.close() }
        try store.setTier(Tier(name: "roomy", limits: [.perHour(1_000_000)]))
        return (options, try store.createKey(NewKey(owner: "acme", tier: "roomy")).secret)
    }

    /// Opens the store, decides once through the writer, and lets go of it without closing.
    private func authorizeAndDrop(_ options: Store.Options, _ secret: String) async throws {
        let store = try Store(options: options)
        #expect(try await store.authorize(key: secret).isAllowed)
    }

    @Test(.timeLimit(.minutes(2)))
    func aStoreDroppedAfterAnAuthorizeIsClosedEveryTime() async throws {
        let (options, secret) = try prepare()
        defer { try? FileManager.default.removeItem(atPath: (options.path as NSString).deletingLastPathComponent) }
        for round in 0..<100 {
            try await authorizeAndDrop(options, secret)
            // Closed by the time the caller's reference is gone: reopening in-process works.
            do {
                let reopened = try Store(options: options)
                reopened.close()
            } catch {
                Issue.record("round \(round): the dropped store is still open: \(error)")
                return
            }
        }
        let store = try Store(options: options)
        defer { store.close() }
        #expect(try store.peek(key: secret).limits[0].remaining == 1_000_000 - 100)
    }

    /// Leaves the store's last reference to a request still queued behind a held write lock:
    /// the writer thread is then the one that releases it.
    private func queueARequestAndDrop(_ options: Store.Options, _ secret: String) async throws -> WriteLockHolder {
        let store = try Store(options: options)
        #expect(try await store.authorize(key: secret).isAllowed)
        let lock = WriteLockHolder(store)
        do throws(TollgateError) {
            _ = try await store.authorize(AuthorizationRequest(key: secret), timeout: .milliseconds(100))
            Issue.record("answered while the write lock was held")
        } catch {
            #expect(error.code == .timedOut)
        }
        return lock
    }

    @Test(.timeLimit(.minutes(1)))
    func aStoreReleasedLastOnTheWriterThreadStillCloses() async throws {
        let (options, secret) = try prepare()
        defer { try? FileManager.default.removeItem(atPath: (options.path as NSString).deletingLastPathComponent) }
        let lock = try await queueARequestAndDrop(options, secret)
        lock.release()
        // The writer answers the queued request, lets go of the store and closes it; waiting
        // for itself there would leave it open for good.
        let deadline = ContinuousClock.now + .seconds(20)
        var reopened: Store?
        while reopened == nil && ContinuousClock.now < deadline {
            reopened = try? Store(options: options)
            if reopened == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let store = try #require(reopened, "the store released on the writer thread never closed")
        defer { store.close() }
        #expect(try store.peek(key: secret).limits[0].remaining == 1_000_000 - 1)
    }
}
