import Foundation
import Testing
@testable import Tollgate
import TollgateTestSupport

/// A backup being restored is input like any other: random bytes or a cut-short copy must be
/// refused with an error, never opened (LMDB would map pages past the end of the file), and the
/// target must be left as it was. (LMDB trusts the pages of a file whose meta pages are valid, so
/// a deliberately crafted data file is outside what `restore` can vouch for; Docs/fuzzing.md.)
@Suite struct HostileBackupTests {
    @Test func randomBytesAreRefused() throws {
        let directory = TemporaryStore.makeDirectory(prefix: "tollgate-hostile")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var generator = SplitMix64(seed: 0xBAC_0000)
        for (index, size) in [0, 1, 100, 4_096, 8_192, 20_000].enumerated() {
            let backup = directory + "/random-\(index)"
            try FileManager.default.createDirectory(atPath: backup, withIntermediateDirectories: true)
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Data(bytes).write(to: URL(fileURLWithPath: backup + "/data.mdb"))
            let target = directory + "/target-\(index)"
            let error = #expect(throws: TollgateError.self) { _ = try Store.restore(backup: backup, to: target) }
            #expect(error?.code == .corruptRecord, "\(size) random bytes: \(String(describing: error))")
            #expect(!FileManager.default.fileExists(atPath: target), "nothing is left at the target")
        }
    }

    @Test func aTruncatedBackupIsRefusedAtEveryLength() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        _ = try fixture.store.authorize(key: try fixture.key().secret)
        let directory = TemporaryStore.makeDirectory(prefix: "tollgate-hostile")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try fixture.store.backup(to: directory + "/full")
        let full = try Data(contentsOf: URL(fileURLWithPath: directory + "/full/data.mdb"))
        #expect(try Store.restore(backup: directory + "/full", to: directory + "/restored").isEmpty, "the whole backup restores")
        let page = 4_096
        var lengths = [0, 1, 16, 100, page - 1, page, page + 100, 2 * page, full.count - 1]
        lengths += stride(from: 3 * page, to: full.count - 1, by: max(page, full.count / 8)).map { $0 }
        for length in lengths where length < full.count {
            let backup = directory + "/cut-\(length)"
            try FileManager.default.createDirectory(atPath: backup, withIntermediateDirectories: true)
            try full.prefix(length).write(to: URL(fileURLWithPath: backup + "/data.mdb"))
            let error = #expect(throws: TollgateError.self) { _ = try Store.restore(backup: backup, to: directory + "/target") }
            #expect(error?.code == .corruptRecord, "cut at \(length) of \(full.count): \(String(describing: error))")
            #expect(!FileManager.default.fileExists(atPath: directory + "/target"))
        }
    }
}
