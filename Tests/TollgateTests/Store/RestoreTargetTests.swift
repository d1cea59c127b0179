import Foundation
import Testing
@testable import Tollgate
import TollgateTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `restore` replaces a store and nothing else: never a directory of other files, with or
/// without `force`, and never a directory it did not create.
@Suite struct RestoreTargetTests {
    /// A mistyped `TOLLGATE_STORE` pointing at a directory of someone's files: refused with and
    /// without `force`, and every file is still there.
    @Test func restoreNeverReplacesADirectoryThatIsNotAStore() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let directory = TemporaryStore.makeDirectory(prefix: "tollgate-restore-target")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try fixture.store.backup(to: directory + "/backup")

        let home = directory + "/home"
        try FileManager.default.createDirectory(atPath: home + "/sub", withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: home + "/precious.txt"))
        try Data("me too".utf8).write(to: URL(fileURLWithPath: home + "/sub/nested.txt"))
        // A data.mdb beside other files is not a store either, nor a data.mdb that is no LMDB file.
        let mixed = directory + "/mixed"
        try FileManager.default.createDirectory(atPath: mixed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: directory + "/backup/data.mdb", toPath: mixed + "/data.mdb")
        try Data("notes".utf8).write(to: URL(fileURLWithPath: mixed + "/notes.txt"))
        let impostor = directory + "/impostor"
        try FileManager.default.createDirectory(atPath: impostor, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 8_192).write(to: URL(fileURLWithPath: impostor + "/data.mdb"))
        let plainFile = directory + "/file"
        try Data("a file".utf8).write(to: URL(fileURLWithPath: plainFile))

        let link = directory + "/link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: home)

        for target in [home, mixed, impostor, plainFile, link] {
            for force in [false, true] {
                let error = #expect(throws: TollgateError.self, "\(target) force \(force)") {
                    _ = try Store.restore(backup: directory + "/backup", to: target, force: force)
                }
                #expect(error?.code == .alreadyExists || error?.code == .invalidArgument, "\(String(describing: error))")
            }
        }
        #expect(try String(contentsOfFile: home + "/precious.txt", encoding: .utf8) == "keep me")
        #expect(try String(contentsOfFile: home + "/sub/nested.txt", encoding: .utf8) == "me too")
        #expect(FileManager.default.fileExists(atPath: mixed + "/notes.txt"))
        #expect(FileManager.default.fileExists(atPath: mixed + "/data.mdb"))
        #expect(FileManager.default.fileExists(atPath: impostor + "/data.mdb"))
        #expect(try String(contentsOfFile: plainFile, encoding: .utf8) == "a file")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == home, "the link is left as it was")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".restoring-") || $0.contains(".replaced-") }
        #expect(leftovers.isEmpty, "no staging directory is left behind: \(leftovers)")

        // What restore may replace: nothing, an empty directory, or a store (with force).
        #expect(throws: Never.self) { _ = try Store.restore(backup: directory + "/backup", to: directory + "/new") }
        try FileManager.default.createDirectory(atPath: directory + "/empty", withIntermediateDirectories: true)
        #expect(throws: Never.self) { _ = try Store.restore(backup: directory + "/backup", to: directory + "/empty") }
        #expect((#expect(throws: TollgateError.self) { _ = try Store.restore(backup: directory + "/backup", to: directory + "/empty") })?.code == .alreadyExists)
        #expect(throws: Never.self) { _ = try Store.restore(backup: directory + "/backup", to: directory + "/empty", force: true) }
    }

    /// A directory of the same name as the staging directory belongs to someone else: untouched.
    @Test func restoreLeavesAForeignStagingLookalikeAlone() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let directory = TemporaryStore.makeDirectory(prefix: "tollgate-restore-staging")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try fixture.store.backup(to: directory + "/backup")
        let lookalike = directory + "/store.restoring-\(getpid())"
        try FileManager.default.createDirectory(atPath: lookalike, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: lookalike + "/file.txt"))
        _ = try Store.restore(backup: directory + "/backup", to: directory + "/store")
        #expect(FileManager.default.fileExists(atPath: lookalike + "/file.txt"))
    }
}
