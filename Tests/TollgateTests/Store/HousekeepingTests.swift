import Foundation
import Testing
@testable import Tollgate
import TollgateTestSupport

@Suite struct HousekeepingTests {
    @Test func sweepRemovesOnlyCountersThatCanNoLongerMatter() throws {
        let fixture = try Fixture { $0.sweepInterval = nil }
        defer { fixture.remove() }
        let key = try fixture.key()
        _ = try fixture.store.authorize(key: key.secret)
        // Both windows still running: nothing to sweep.
        #expect(try fixture.store.sweep().counters == 0)
        fixture.clock.advance(by: .seconds(1))
        // The second's window ended; the minute's has not.
        #expect(try fixture.store.sweep().counters == 1)
        #expect(try fixture.store.peek(key: key.secret).limits[1].remaining == 4, "the minute counter survived")
        fixture.clock.advance(by: .seconds(60))
        #expect(try fixture.store.sweep().counters == 1)
        #expect(try fixture.store.statistics().tables.first { $0.name == "counters" }?.records == 0)
    }

    @Test func sweepRemovesExpiredRotationGraceRecords() throws {
        let fixture = try Fixture { $0.sweepInterval = nil }
        defer { fixture.remove() }
        let old = try fixture.key()
        let new = try fixture.store.rotateKey(id: old.info.id, grace: .seconds(10))
        #expect(try fixture.store.sweep().rotatedKeys == 0)
        #expect(try fixture.store.authorize(key: old.secret).isAllowed)
        fixture.clock.advance(by: .seconds(10))
        // Past its grace and before a sweep the old secret is `revoked` (Docs/keys.md); the sweep
        // removes its hash, and from then on it is a key the store never saw.
        #expect(try fixture.store.authorize(key: old.secret).outcome == .revoked)
        #expect(try fixture.store.sweep().rotatedKeys == 1)
        #expect(try fixture.store.authorize(key: old.secret).outcome == .unknownKey)
        #expect(try fixture.store.authorize(key: new.secret).isAllowed)
    }

    @Test func sweepWorksInBoundedBatches() throws {
        let fixture = try Fixture { $0.sweepInterval = nil }
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "ip", limits: [Limit(name: "ip", strategy: .fixedWindow, quantity: 10, windowMicroseconds: 1_000_000, subject: .custom("ip"))]))
        let key = try fixture.key(NewKey(owner: "o", tier: "ip"))
        for index in 0..<250 { _ = try fixture.store.authorize(key: key.secret, subjects: ["ip": "10.0.\(index / 256).\(index % 256)"]) }
        fixture.clock.advance(by: .seconds(2))
        let partial = try fixture.store.sweep(batchSize: 100, maxBatches: 1)
        #expect(partial.counters == 100 && !partial.finished)
        let rest = try fixture.store.sweep(batchSize: 100)
        #expect(rest.counters == 150 && rest.finished)
        #expect(rest.batches >= 2)
    }

    /// A stream of one-off subjects (every request from a new IP) must not grow the file without
    /// bound: after a sweep, LMDB reuses the freed pages. `TOLLGATE_SWEEP_SUBJECTS=1000000` runs
    /// the full-size version.
    @Test func oneOffSubjectsDoNotGrowTheStoreWithoutBound() throws {
        let fixture = try Fixture {
            $0.sweepInterval = nil
            $0.durability = .periodic(interval: .seconds(60))
        }
        defer { fixture.remove() }
        let subjects = Int(ProcessInfo.processInfo.environment["TOLLGATE_SWEEP_SUBJECTS"] ?? "") ?? 10_000
        try fixture.store.setTier(Tier(name: "ip", limits: [Limit(name: "ip", strategy: .fixedWindow, quantity: 10, windowMicroseconds: 1_000_000, subject: .custom("ip"))]))
        let key = try fixture.key(NewKey(owner: "o", tier: "ip"))
        var sizes: [Int] = []
        for round in 0..<3 {
            for index in 0..<subjects {
                _ = try fixture.store.authorize(key: key.secret, subjects: ["ip": "r\(round)-\(index)"])
            }
            fixture.clock.advance(by: .seconds(2))
            #expect(try fixture.store.sweep().counters == subjects)
            sizes.append(try fixture.store.statistics().usedBytes)
        }
        // Rounds 2 and 3 reuse what round 1 freed: the map stops growing.
        #expect(sizes[2] <= sizes[0] + sizes[0] / 10, "used bytes per round: \(sizes)")
    }

    @Test func theBackgroundSweeperRuns() async throws {
        let fixture = try Fixture { $0.sweepInterval = .milliseconds(20) }
        defer { fixture.remove() }
        let key = try fixture.key()
        _ = try await fixture.store.authorize(key: key.secret)
        fixture.clock.advance(by: .seconds(120))
        for _ in 0..<100 where try fixture.store.statistics().tables.first(where: { $0.name == "counters" })?.records != 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try fixture.store.statistics().tables.first { $0.name == "counters" }?.records == 0)
    }
}
