import Foundation
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// `check` compares counters with the usage ledger where both cover the same span, and
/// `repairCounterLedgerDisagreements` makes them agree again (issue 12 item 21).
@Suite struct CheckTests {
    /// A store with a `metered` tier: 100 per calendar day and 50 per fixed minute, 5 decisions made.
    static func metered() throws -> (fixture: Fixture, keyID: String, day: Int64) {
        let fixture = try Fixture()
        try fixture.store.setTier(Tier(name: "metered", limits: [.perDay(100), .perMinute(50)]))
        fixture.clock.advance(by: .seconds(86_400)) // the tier edits were yesterday
        let key = try fixture.key(NewKey(owner: "acme", tier: "metered"))
        for _ in 0..<5 { #expect(try fixture.store.authorize(key: key.secret).isAllowed) }
        return (fixture, key.info.id, fixture.clock.now().daysSinceEpoch)
    }

    /// What a torn write leaves: one side of the pair changed behind the store's back.
    static func setCounter(_ store: Store, keyID: String, limit: String, count: UInt64) throws {
        let key = CounterSubject.key(id: keyID).tableKey(limit: limit)
        try store.environment.write { txn in
            var stored = try #require(try txn.withValue(in: store.tables.counters, forKey: key) { try StoredCounter.decode($0) })
            guard case .window(let start, _) = stored.state else { Issue.record("not a window counter"); return }
            stored.state = .window(start: start, count: count)
            try txn.put(stored.encoded(), forKey: key, in: store.tables.counters)
        }
    }

    static func setConsumed(_ store: Store, keyID: String, day: Int64, _ consumed: UInt64) throws {
        try store.environment.write { txn in
            try DailyUsage.update(txn, store.tables.usage, keyID: keyID, day: day) { $0.consumed = consumed }
        }
    }

    static func counter(_ store: Store, _ keyID: String, _ limit: String) throws -> UInt64? {
        try store.counters().first { $0.subject == "key:\(keyID)" && $0.limit == limit }.flatMap {
            if case .window(_, let count) = $0.state { count } else { nil }
        }
    }

    @Test func countersThatAgreeWithTheLedgerAreClean() throws {
        let (fixture, _, _) = try Self.metered()
        defer { fixture.remove() }
        #expect(try fixture.store.check().isEmpty)
    }

    @Test func aDayCounterBelowItsLedgerIsFoundAndRaisedToIt() throws {
        let (fixture, keyID, day) = try Self.metered()
        defer { fixture.remove() }
        try Self.setCounter(fixture.store, keyID: keyID, limit: "day", count: 2)
        let findings = try fixture.store.check()
        #expect(findings.map(\.description) == ["counters: counter key:\(keyID)/day counts 2 for \(Timestamp.isoDate(day: day)), the usage ledger 5"])

        let repairs = try fixture.store.repairCounterLedgerDisagreements()
        #expect(repairs.map(\.trusted) == [.ledger])
        #expect(repairs.first?.description.contains("2 → 5 (trusted the usage ledger)") == true)
        #expect(try Self.counter(fixture.store, keyID, "day") == 5)
        #expect(try fixture.store.check().isEmpty)
    }

    @Test func aLedgerBelowItsDayCounterIsFoundAndRaisedToIt() throws {
        let (fixture, keyID, day) = try Self.metered()
        defer { fixture.remove() }
        try Self.setConsumed(fixture.store, keyID: keyID, day: day, 3)
        let findings = try fixture.store.check()
        #expect(findings.contains { $0.problem.contains("counter key:\(keyID)/day counts 5 for") && $0.problem.contains("the usage ledger 3") }, "\(findings)")
        #expect(findings.contains { $0.problem.contains("counter key:\(keyID)/minute counts 5 in a window") }, "a minute inside the day counts more than the day: \(findings)")

        let repairs = try fixture.store.repairCounterLedgerDisagreements()
        #expect(Set(repairs.map(\.trusted)) == [.counter])
        #expect(try fixture.store.usage(keyID: keyID, days: 1, now: fixture.clock.now()).first?.consumed == 5)
        #expect(try fixture.store.check().isEmpty)
    }

    /// A shorter window inside the day may count less than the day (earlier windows ended).
    @Test func aMinuteBelowTheDayIsNotADisagreement() throws {
        let (fixture, keyID, _) = try Self.metered()
        defer { fixture.remove() }
        fixture.clock.advance(by: .seconds(60))
        try Self.setCounter(fixture.store, keyID: keyID, limit: "minute", count: 1)
        #expect(try fixture.store.check().isEmpty)
    }

    /// A day limit added at noon starts counting at noon: below the ledger, and not damage.
    @Test func aTierEditTodayExcusesACounterBelowTheLedger() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "metered", limits: [.perMinute(50)]))
        fixture.clock.advance(by: .seconds(3_600))
        let key = try fixture.key(NewKey(owner: "acme", tier: "metered"))
        for _ in 0..<3 { _ = try fixture.store.authorize(key: key.secret) }
        try fixture.store.setTier(Tier(name: "metered", limits: [.perMinute(50), .perDay(100)]))
        _ = try fixture.store.authorize(key: key.secret)
        #expect(try Self.counter(fixture.store, key.info.id, "day") == 1)
        #expect(try fixture.store.check().isEmpty)
    }
}

/// `tollgate check`, `--repair` and `--clear-damage` on a real store.
@Suite struct CheckCommandTests {
    @Test func checkRepairsAndClearsDamage() throws {
        let (fixture, keyID, _) = try CheckTests.metered()
        defer { fixture.remove() }
        try CheckTests.setCounter(fixture.store, keyID: keyID, limit: "day", count: 1)
        fixture.store.close()
        let path = fixture.temporary.directory + "/store"
        let cli = CLI(store: path)

        let found = try cli.run("check")
        #expect(found.status == 1)
        #expect(found.stdout.contains("counter key:\(keyID)/day counts 1 for"), "\(found.stdout)")
        let repaired = try cli.run("check", "--repair")
        #expect(repaired.status == 0, "\(repaired.stderr)")
        #expect(repaired.stdout.contains("repaired: counter key:\(keyID)/day") && repaired.stdout.contains("(trusted the usage ledger)"), "\(repaired.stdout)")
        #expect(try cli.run("check").stdout == "clean\n")

        let sound = try DataFileImage(path: path + "/data.mdb")
        var broken = sound
        broken.set(try #require(broken.tableRootOffset("audit")), broken.lastPage(meta: broken.newestMeta) + 7)
        try broken.write(to: path)
        let damage = try cli.run("check")
        #expect(damage.status == 1)
        #expect(damage.stdout.contains("structure: tree \"audit\" references page"), "\(damage.stdout)")
        let write = try cli.run("check", "--repair")
        #expect(write.status != 0)
        #expect(write.stderr.contains("structural-damage"), "\(write.stderr)")
        #expect(try cli.run("check", "--clear-damage").status != 0, "still damaged")
        try sound.write(to: path)
        let cleared = try cli.run("check", "--clear-damage")
        #expect(cleared.status == 0, "\(cleared.stderr)")
        #expect(try cli.run("check", "--repair").status == 0)
    }
}
