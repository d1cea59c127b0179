import Foundation
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

@Suite struct StoreFileTests {
    @Test func reopenKeepsEverything() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        _ = try fixture.store.authorize(key: key.secret)
        let storeID = fixture.store.meta.storeID
        let reopened = try fixture.temporary.reopen()
        #expect(reopened.meta.storeID == storeID)
        #expect(try reopened.tier(named: "free")?.limits.count == 2)
        let decision = try reopened.authorize(key: key.secret)
        #expect(decision.isAllowed)
        #expect(decision.limits[0].remaining == 0, "the counter survived the restart")
    }

    @Test func aSecondOpenInOneProcessIsRefused() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        var options = fixture.store.options
        options.create = false
        #expect((#expect(throws: TollgateError.self) { try Store(options: options) })?.code == .storage)
    }

    @Test func openingWithoutCreateNeedsAStore() throws {
        var options = Store.Options(path: TemporaryStore.makeDirectory() + "/none")
        options.create = false
        let error = #expect(throws: TollgateError.self) { _ = try Store(options: options) }
        #expect(error?.code == .notFound)
    }

    @Test func anUnknownFormatVersionIsRefusedAndLeftAlone() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let path = fixture.store.options.path
        fixture.store.close()
        // Rewrite the meta record as a future format 7 would.
        var environmentOptions = Environment.Options(path: path)
        environmentOptions.create = false
        let environment = try Environment(options: environmentOptions)
        let meta = try #require(try environment.table(named: "meta"))
        let current: [UInt8]? = try environment.read { txn in try txn.value(in: meta, forKey: Array("store".utf8)) }
        var future: [UInt8] = try #require(current)
        future.replaceSubrange(1...4, with: [0, 0, 0, 7] as [UInt8])
        try environment.write { txn in try txn.put(future, forKey: Array("store".utf8), in: meta) }
        environment.close()

        do {
            _ = try fixture.temporary.reopen()
            Issue.record("opened a format-7 store")
        } catch let error as TollgateError {
            #expect(error.code == .unsupportedFormat)
            #expect(error.message.contains("7"))
            #expect(error.message.contains("\(StoreMeta.currentFormatVersion)"))
        }
        // Nothing was rewritten.
        let again = try Environment(options: environmentOptions)
        defer { again.close() }
        let table = try #require(try again.table(named: "meta"))
        let stored = try again.read { txn in try txn.value(in: table, forKey: Array("store".utf8)) }
        #expect(stored == future)
    }

    @Test func pepperMustMatch() throws {
        let pepper = try Pepper(bytes: Array("a pepper of at least sixteen bytes".utf8))
        let temporary = try TemporaryStore { $0.pepper = pepper }
        defer { temporary.remove() }
        #expect(temporary.store.meta.hashScheme == .hmacSHA256)
        try temporary.store.setTier(Tier(name: "free", limits: [.perSecond(5)]))
        let key = try temporary.store.createKey(NewKey(owner: "o", tier: "free"))
        #expect(try temporary.store.authorize(key: key.secret).isAllowed)

        let wrongPeppers: [Pepper?] = [nil, try Pepper(bytes: Array("another pepper, also sixteen+".utf8))]
        for wrong in wrongPeppers {
            #expect(reopenError(temporary, pepper: wrong)?.code == .pepperMismatch)
        }
        let reopened = try temporary.reopen { $0.pepper = pepper }
        #expect(try reopened.authorize(key: key.secret).isAllowed)
        #expect((#expect(throws: TollgateError.self) { try Pepper(bytes: [1, 2, 3]) })?.code == .invalidArgument)
    }

    @Test func aPlainStoreRefusesAPepper() throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        #expect(temporary.store.meta.hashScheme == .sha256)
        let pepper = try Pepper(bytes: [UInt8](repeating: 7, count: 32))
        #expect(reopenError(temporary, pepper: pepper)?.code == .pepperMismatch)
    }

    @Test func readOnlyStoresReadButDoNotWrite() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        let reopened = try fixture.temporary.reopen { $0.readOnly = true }
        #expect(try reopened.peek(key: key.secret).isAllowed)
        #expect(try reopened.key(id: key.info.id) != nil)
        let error = #expect(throws: TollgateError.self) { _ = try reopened.authorize(key: key.secret) }
        #expect(error?.code == .readOnly)
    }

    @Test func storeFilesAreOwnerOnly() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let path = fixture.store.options.path
        for name in ["data.mdb", "lock.mdb"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path + "/" + name)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
        let directory = try FileManager.default.attributesOfItem(atPath: path)
        #expect((directory[.posixPermissions] as? Int) == 0o700)
    }

    @Test func tiersCanBeListedReplacedAndRemoved() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "pro", limits: [.perSecond(100), .perDay(100_000)]))
        #expect(try fixture.store.tiers().map(\.name) == ["free", "pro"])
        let key = try fixture.key()
        let inUse = #expect(throws: TollgateError.self) { try fixture.store.removeTier(named: "free") }
        #expect(inUse?.code == .tierInUse)
        try fixture.store.removeTier(named: "free", movingKeysTo: "pro")
        #expect(try fixture.store.key(id: key.info.id)?.tier == "pro")
        #expect(try fixture.store.tier(named: "free") == nil)
        #expect((#expect(throws: TollgateError.self) { try fixture.store.setTier(Tier(name: "bad name", limits: [])) })?.code == .invalidArgument)
        #expect((#expect(throws: TollgateError.self) { try fixture.store.setTier(Tier(name: "zero", limits: [.perSecond(0)])) })?.code == .invalidArgument)
        #expect((#expect(throws: TollgateError.self) { try fixture.store.setTier(Tier(name: "dup", limits: [.perSecond(1), .perSecond(2)])) })?.code == .invalidArgument)
    }

    @Test func periodicDurabilityWorks() async throws {
        let temporary = try TemporaryStore { $0.durability = .periodic(interval: .milliseconds(20)) }
        defer { temporary.remove() }
        try temporary.store.setTier(Tier(name: "free", limits: [.perSecond(5)]))
        let key = try temporary.store.createKey(NewKey(owner: "o", tier: "free"))
        #expect(try await temporary.store.authorize(key: key.secret).isAllowed)
        try await Task.sleep(for: .milliseconds(60))
        let reopened = try temporary.reopen()
        #expect(try reopened.peek(key: key.secret).limits[0].remaining == 4)
    }

    private func reopenError(_ temporary: TemporaryStore, pepper: Pepper?) -> TollgateError? {
        do {
            _ = try temporary.reopen { options in options.pepper = pepper }
            return nil
        } catch let error as TollgateError {
            return error
        } catch {
            return TollgateError(.storage, "\(error)")
        }
    }
}
