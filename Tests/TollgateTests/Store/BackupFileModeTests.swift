import Foundation
import Synchronization
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `backup` never leaves its copy readable by others, not even while it is being written.
@Suite struct BackupFileModeTests {
    #if DEBUG // the copy observer exists only in debug builds
    /// The copy's data file is 0600 and empty at the moment LMDB starts writing into it: another
    /// user can never open it mid-copy.
    @Test(arguments: [false, true]) func aBackupIsNeverReadableByOthersWhileItIsWritten(compact: Bool) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        _ = try fixture.store.authorize(key: try fixture.key().secret)
        let directory = TemporaryStore.makeDirectory(prefix: "tollgate-backup-mode")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let destination = directory + "/backup"
        let seen = Mutex<[(mode: mode_t, size: Int)]>([])
        FaultInjection.observeCopies(into: destination) { descriptor in
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { return }
            seen.withLock { $0.append((status.st_mode & 0o777, Int(status.st_size))) }
        }
        defer { FaultInjection.observeCopies(into: destination, nil) }
        try fixture.store.backup(to: destination, compact: compact)
        let observations = seen.withLock { $0 }
        #expect(observations.count == 1, "the copy was observed while in progress")
        #expect(observations.first?.mode == 0o600, "mode \(String(observations.first?.mode ?? 0, radix: 8)) before the copy")
        #expect(observations.first?.size == 0, "observed before any byte was written")
        var status = stat()
        #expect(stat(destination + "/data.mdb", &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        #expect(status.st_size > 0)
        #expect(try Store.restore(backup: destination, to: directory + "/restored").isEmpty)
    }

    #endif

    /// An existing file or a planted symbolic link at the copy's path is refused, never written through.
    @Test func aBackupRefusesAPlantedDataFileLink() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let directory = TemporaryStore.makeDirectory(prefix: "tollgate-backup-link")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let destination = directory + "/backup"
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: destination + "/data.mdb", withDestinationPath: directory + "/elsewhere")
        #expect((#expect(throws: TollgateError.self) { try fixture.store.backup(to: destination) })?.code == .storage)
        #expect(!FileManager.default.fileExists(atPath: directory + "/elsewhere"), "nothing was written through the link")
    }
}
