import Foundation
import Testing
import Tollgate
import TollgateTestSupport

@Suite struct ManualClockTests {
    @Test func startsAtTheDocumentedInstantAndMovesOnlyWhenTold() {
        let clock = ManualClock()
        #expect(clock.now() == Timestamp(seconds: 1_767_225_600))
        #expect(clock.now().iso8601 == "2026-01-01T00:00:00.000000Z")
        #expect(clock.now() == clock.now())
        clock.advance(microseconds: 1)
        #expect(clock.now().microseconds == 1_767_225_600_000_001)
        clock.advance(by: .milliseconds(1500))
        #expect(clock.now().microseconds == 1_767_225_601_500_001)
        clock.advance(microseconds: -1)
        clock.set(Timestamp(seconds: 0))
        #expect(clock.now().iso8601 == "1970-01-01T00:00:00.000000Z")
    }
}

@Suite struct TemporaryStoreTests {
    @Test func opensReopensAndRemoves() throws {
        let temporary = try TemporaryStore()
        try temporary.store.setTier(Tier(name: "free", limits: [.perSecond(1)]))
        let key = try temporary.store.createKey(NewKey(owner: "o", tier: "free"))
        #expect(try temporary.store.authorize(key: key.secret).isAllowed)
        let reopened = try temporary.reopen()
        #expect(try reopened.authorize(key: key.secret).outcome == .rateLimited, "the counter survived the reopen")
        temporary.clock.advance(by: .seconds(1))
        #expect(try reopened.authorize(key: key.secret).isAllowed, "the store uses the manual clock")
        #expect(try !temporary.rawFileContents().isEmpty)
        temporary.remove()
        #expect(!FileManager.default.fileExists(atPath: temporary.directory))
    }

    @Test func configurationIsApplied() throws {
        let temporary = try TemporaryStore { $0.keyPrefix = "test_" }
        defer { temporary.remove() }
        #expect(temporary.store.keyFormat.prefix == "test_")
        let reopened = try temporary.reopen { $0.readOnly = true }
        #expect(reopened.options.readOnly)
    }

    @Test func directoriesAreFreshAndDistinct() {
        let a = TemporaryStore.makeDirectory()
        let b = TemporaryStore.makeDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: a)
            try? FileManager.default.removeItem(atPath: b)
        }
        #expect(a != b)
        #expect(FileManager.default.fileExists(atPath: a))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: a))?.isEmpty == true)
    }
}
