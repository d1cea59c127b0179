import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// A write transaction may run its body twice: when LMDB says the map is full, `Environment.write`
/// aborts, grows the map and runs the body again. Whatever the store does inside a write body
/// must survive that — the kill -9 growth trials hit it at random, these tests on purpose.
@Suite struct WriteRetryTests {
    /// Denied counts wait in memory and ride along with the next commit. If that commit is retried
    /// after map growth, the retry must write them again, not lose them.
    @Test func deniedCountsSurviveARetriedCommit() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        for _ in 0..<2 { #expect(try fixture.store.authorize(key: key.secret).isAllowed) }
        #expect(try fixture.store.authorize(key: key.secret).outcome == .rateLimited)

        // The next write carries the denied count; its first commit fails as if the map were full.
        FaultInjection.inject(.mapFull, into: .commit)
        defer { FaultInjection.clear() }
        _ = try fixture.key(NewKey(owner: "other", tier: "free"))

        let usage = try fixture.store.usage(keyID: key.info.id)
        #expect(usage.map(\.allowed) == [2])
        #expect(usage.map(\.denied) == [1])
        try fixture.temporary.reopen()
        #expect(try fixture.temporary.store.usage(keyID: key.info.id).map(\.denied) == [1])
    }
}
