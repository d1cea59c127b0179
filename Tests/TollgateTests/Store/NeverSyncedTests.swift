import Foundation
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// A store lost to a power cut before its first sync (a 0-byte data.mdb) is named as such and
/// never silently replaced (issue 12, item 19).
@Suite(.serialized) struct NeverSyncedTests {
    /// A store directory as a power cut before the first sync leaves it.
    private func neverSyncedStore() throws -> String {
        let path = TemporaryStore.makeDirectory() + "/store"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: path + "/data.mdb", contents: Data()))
        return path
    }

    private func dataFileSize(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path + "/data.mdb")[.size] as? Int)
    }

    @Test func openingWithoutCreateSaysItWasNeverSyncedAndWritesNothing() throws {
        let path = try neverSyncedStore()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        for (readOnly, create) in [(true, false), (true, true), (false, false)] {
            var options = Store.Options(path: path)
            options.readOnly = readOnly
            options.create = create
            let error = #expect(throws: TollgateError.self) { _ = try Store(options: options) }
            #expect(error?.code == .neverSynced, "readOnly \(readOnly), create \(create): \(String(describing: error))")
            #expect(error?.message.contains("never synced: its data file is empty") == true)
            #expect(try dataFileSize(path) == 0, "readOnly \(readOnly), create \(create): the empty store was replaced")
        }
        // Asking to create is the one way to get a new store there.
        let created = try Store(options: Store.Options(path: path))
        created.close()
        #expect(try dataFileSize(path) > 0)
    }

    @Test func openingAnEnvironmentWithoutAStoreDoesNotCreateOne() throws {
        let path = TemporaryStore.makeDirectory() + "/store"
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let environment = try Environment(options: Environment.Options(path: path))
        _ = try environment.table(named: "other")
        environment.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb"))
        var options = Store.Options(path: path)
        options.create = false
        let error = #expect(throws: TollgateError.self) { _ = try Store(options: options) }
        #expect(error?.code == .notFound)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb")) == before)
    }

    @Test func theCLIReportsItAndDoesNotCreate() throws {
        let path = try neverSyncedStore()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let cli = CLI(store: path)
        let check = try cli.run("check")
        #expect(check.status != 0)
        #expect(check.stderr.contains("never synced: its data file is empty"), "\(check.stderr)")
        let results = [
            try cli.run("stats"), try cli.run("key", "list"), try cli.run("tier", "set", "free", "--limit", "1/second"), try cli.run("init"),
        ]
        for (index, result) in results.enumerated() {
            #expect(result.status != 0, "command \(index)")
            #expect(result.stderr.contains("never synced"), "command \(index): \(result.stderr)")
        }
        #expect(try dataFileSize(path) == 0)
    }
}
