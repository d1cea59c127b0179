import Foundation
import Testing
@testable import Tollgate
import TollgateTestSupport

@Suite struct PolicyFileTests {
    @Test func parsesTiersCommentsAndBlankLines() throws {
        let text = """
            # tiers of the demo
            tier free:     10/second  day=1000/day   # per key

            \ttier pro : 50/second:token-bucket,burst=100\tday=100000/day\r
            tier a:b.c-d_e: ip=20/second,by=ip
            tier internal:
            """
        let policy = try PolicyFile(parsing: text)
        #expect(policy.tiers.map(\.name) == ["free", "pro", "a:b.c-d_e", "internal"])
        #expect(policy.tiers[0].limits == [.perSecond(10), .perDay(1_000)])
        #expect(policy.tiers[1].limits == [
            Limit(name: "second", strategy: .tokenBucket, quantity: 50, windowMicroseconds: 1_000_000, burst: 100), .perDay(100_000),
        ])
        #expect(policy.tiers[2].limits == [Limit(name: "ip", strategy: .fixedWindow, quantity: 20, windowMicroseconds: 1_000_000, subject: .custom("ip"))])
        #expect(policy.tiers[3].limits.isEmpty)
        #expect(try PolicyFile(parsing: policy.text) == policy, "the file's text reads back to the same tiers")
        #expect(try PolicyFile(parsing: "").tiers.isEmpty)
        #expect(try PolicyFile(parsing: "# nothing\n\n   \n").tiers.isEmpty)
    }

    @Test(arguments: [
        ("tier free: 10/second\nlimit 5/second", 2, 1, "expected 'tier NAME"),
        ("tier", 1, 5, "expected a tier name"),
        ("tier free 10/second", 1, 10, "expected ':'"),
        ("tier bad/name: 10/second", 1, 6, "a tier name must be"),
        ("tier free: 10/fortnight", 1, 15, "unknown window"),
        ("tier free:  10/second:weird", 1, 23, "unknown strategy"),
        ("tier free: 0/second", 1, 12, "whole number"),
        ("tier free: 10/second second=5/minute", 1, 22, "appears twice"),
        ("tier free: 1/s\n\ntier free: 2/s", 3, 0, "declared twice (first on line 1)"),
        ("tier free: 10/second, day=1000/day", 1, 22, "expected burst=N or by=SUBJECT"),
    ])
    func refusesWithLineAndColumn(_ text: String, _ line: Int, _ column: Int, _ reason: String) {
        let error = #expect(throws: PolicyFile.ParseError.self) { try PolicyFile(parsing: text) }
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.column == column, "\(String(describing: error))")
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
    }

    @Test func boundsAreCheckedBeforeTheInputIsRead() {
        let huge = String(repeating: "tier a: 1/s\n", count: 10_000)
        let error = #expect(throws: PolicyFile.ParseError.self) { try PolicyFile(parsing: huge) }
        #expect(error?.line == 0)
        #expect(error?.description.contains("longer than 65536 bytes") == true)

        let longLine = "tier a: " + String(repeating: "x", count: 9_000)
        let lineError = #expect(throws: PolicyFile.ParseError.self) { try PolicyFile(parsing: longLine) }
        #expect(lineError?.reason.contains("line longer than") == true)
        #expect((lineError?.description.utf8.count ?? .max) < 200, "the line is not echoed")

        let longSpec = "tier a: " + String(repeating: "9", count: 5_000) + "/second"
        let specError = #expect(throws: PolicyFile.ParseError.self) { try PolicyFile(parsing: longSpec) }
        #expect((specError?.description.utf8.count ?? .max) < 300, "\(String(describing: specError))")

        let manyLimits = "tier a:" + (0..<33).map { " l\($0)=1/s" }.joined()
        let limitsError = #expect(throws: PolicyFile.ParseError.self) { try PolicyFile(parsing: manyLimits) }
        #expect(limitsError?.reason.contains("more than 32 limits") == true)

        let manyTiers = (0..<1_025).map { "tier t\($0):\n" }.joined()
        let tiersError = #expect(throws: PolicyFile.ParseError.self) { try PolicyFile(parsing: manyTiers) }
        #expect(tiersError?.reason.contains("more than 1024 tiers") == true)
    }

    @Test func quotesAreShortAndPrintable() {
        let error = #expect(throws: PolicyFile.ParseError.self) {
            try PolicyFile(parsing: "\u{1B}[31m" + String(repeating: "z", count: 100) + " free: 1/s")
        }
        let description = error?.description ?? ""
        #expect(!description.contains("\u{1B}"))
        #expect(description.contains("…'"))
        #expect(description.utf8.count < 150)
    }

    @Test func readsAFileWithoutReadingMoreThanTheBound() throws {
        let directory = TemporaryStore.makeDirectory(prefix: "tollgate-policy")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tiers.policy"
        try "tier free: 10/second\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try PolicyFile(contentsOfFile: path).tiers.map(\.name) == ["free"])

        try String(repeating: "#", count: PolicyFile.maximumFileLength + 1).write(toFile: path, atomically: true, encoding: .utf8)
        let tooLong = #expect(throws: TollgateError.self) { try PolicyFile(contentsOfFile: path) }
        #expect(tooLong?.code == .invalidArgument)
        let missing = #expect(throws: TollgateError.self) { try PolicyFile(contentsOfFile: directory + "/none") }
        #expect(missing?.code == .notFound)
    }
}

@Suite struct ApplyTiersTests {
    @Test func appliesAllTiersInOneTransactionAndReportsChanges() throws {
        let temporary = try TemporaryStore { $0.durability = .periodic(interval: .seconds(3_600)) }
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "free", limits: [.perSecond(5)]))
        try store.setTier(Tier(name: "legacy", limits: [.perMinute(1)]))
        try store.setTier(Tier(name: "same", limits: [.perHour(7)]))
        let auditBefore = try store.auditEvents().count
        let policy = try PolicyFile(parsing: "tier free: 10/second\ntier pro: 100/second\ntier same: hour=7/hour\n")

        let planned = try store.applyTiers(policy.tiers, dryRun: true)
        #expect(planned == [
            .replace(old: Tier(name: "free", limits: [.perSecond(5)]), new: Tier(name: "free", limits: [.perSecond(10)])),
            .create(Tier(name: "pro", limits: [.perSecond(100)])),
            .unchanged(Tier(name: "same", limits: [.perHour(7)])),
        ])
        #expect(try store.tier(named: "free")?.limits == [.perSecond(5)], "a dry run writes nothing")
        #expect(try store.tier(named: "pro") == nil)

        let applied = try store.applyTiers(policy.tiers)
        #expect(applied == planned)
        #expect(try store.tier(named: "free")?.limits == [.perSecond(10)])
        #expect(try store.tier(named: "pro")?.limits == [.perSecond(100)])
        #expect(try store.tier(named: "legacy")?.limits == [.perMinute(1)], "tiers not in the file are kept")
        #expect(try store.auditEvents().count == auditBefore + 2, "no event for the unchanged tier")
        #expect(try store.applyTiers(policy.tiers).allSatisfy { if case .unchanged = $0 { true } else { false } })
    }

    @Test func anInvalidTierAppliesNothing() throws {
        let temporary = try TemporaryStore { $0.durability = .periodic(interval: .seconds(3_600)) }
        defer { temporary.remove() }
        let store = temporary.store
        let good = Tier(name: "good", limits: [.perSecond(1)])
        let bad = Tier(name: "bad", limits: [Limit(name: "x", strategy: .fixedWindow, quantity: 0, windowMicroseconds: 1)])
        let invalid = #expect(throws: TollgateError.self) { try store.applyTiers([good, bad]) }
        #expect(invalid?.code == .invalidArgument)
        let twice = #expect(throws: TollgateError.self) { try store.applyTiers([good, good]) }
        #expect(twice?.code == .invalidArgument)
        #expect(try store.tiers().isEmpty)
    }
}
