import Foundation
import Testing
import TollgateLMDB

extension LMDBTests {
    /// Opening, reopening, exclusivity, files and their modes, read-only use, copies, info.
    @Suite struct Environments {
        @Test(arguments: [Environment.Durability.durable, .noSync, .noMetaSync])
        func reopenKeepsTheData(durability: Environment.Durability) throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            var options = Environment.Options(path: root + "/env")
            options.durability = durability
            do {
                let env = try Environment(options: options)
                defer { env.close() }
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in
                    for n in 0..<100 { try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table) }
                }
                try env.sync(force: false)
                try env.sync()
            }
            let env = try Environment(options: options)
            defer { env.close() }
            let table = try #require(try env.table(named: "t", create: false))
            let entries = try allEntries(env, table)
            #expect(entries.count == 100)
            #expect(entries.map(\.key) == (0..<100).map { UInt64($0).bigEndianBytes })
            #expect(entries.map(\.value) == (0..<100).map(value100))
        }

        @Test func closeDropsTheEnvironmentWhenItsLastReferenceGoes() throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            let options = Environment.Options(path: root + "/env")
            do {
                let env = try Environment(options: options)
                _ = try env.table(named: "t")
                // No close(): deinit closes it and releases the claim on the directory.
            }
            let again = try Environment(options: options)
            again.close()
        }

        /// LMDB must not be opened twice in one process (its locks are per process), so the
        /// second open throws `busy`, whatever spelling of the path it uses.
        @Test func aSecondOpenInOneProcessThrowsBusyWhateverThePathSpelling() throws {
            try withScratchEnvironment { env, path in
                let table = try #require(try env.table(named: "t"))
                let link = path + "-link"
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
                let parent = (path as NSString).deletingLastPathComponent
                let spellings = [path, path + "/", path + "/.", path + "/./", parent + "/./env", parent + "/../" + (parent as NSString).lastPathComponent + "/env", link, link + "/"]
                for spelling in spellings {
                    #expect(throws: LMDBError.busy, "\(spelling)") {
                        _ = try Environment(options: .init(path: spelling))
                    }
                    var readOnly = Environment.Options(path: spelling)
                    readOnly.readOnly = true
                    #expect(throws: LMDBError.busy, "\(spelling), read-only") {
                        _ = try Environment(options: readOnly)
                    }
                }
                // The refused opens did not disturb the first one.
                try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: table) }
                #expect(try readValue(env, table, "k") == "v")

                // After close, every spelling opens again (one at a time).
                env.close()
                for spelling in spellings {
                    let again = try Environment(options: .init(path: spelling))
                    let table = try #require(try again.table(named: "t", create: false))
                    #expect(try readValue(again, table, "k") == "v")
                    again.close()
                }
            }
        }

        /// A failed open must not keep the directory claimed.
        @Test func aFailedOpenDoesNotLeaveTheDirectoryClaimed() throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            let path = root + "/env"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            let garbage = [UInt8](repeating: 0x5A, count: 16_384)
            _ = FileManager.default.createFile(atPath: path + "/data.mdb", contents: Data(garbage))
            #expect(throws: LMDBError.invalid) { _ = try Environment(options: .init(path: path)) }
            try FileManager.default.removeItem(atPath: path + "/data.mdb")
            let env = try Environment(options: .init(path: path))
            env.close()
        }

        @Test func openingAFileOrAMissingPathFails() throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            _ = FileManager.default.createFile(atPath: root + "/file", contents: Data([1]))
            #expect(throws: LMDBError.notDirectory) { _ = try Environment(options: .init(path: root + "/file")) }
            #expect(throws: LMDBError.noSuchFile) { _ = try Environment(options: .init(path: root + "/missing/env")) }
            var noCreate = Environment.Options(path: root + "/not-created")
            noCreate.create = false
            #expect(throws: LMDBError.noSuchFile) { _ = try Environment(options: noCreate) }
            #expect(!FileManager.default.fileExists(atPath: root + "/not-created"))
        }

        /// The store holds private data: its directory is 0700, its files 0600.
        @Test func filesAre0600AndTheDirectory0700() throws {
            try withScratchEnvironment { env, path in
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: table) }
                func mode(_ path: String) throws -> mode_t {
                    var info = stat()
                    try #require(stat(path, &info) == 0, "stat \(path)")
                    return info.st_mode & 0o7777
                }
                #expect(try mode(path) == 0o700)
                #expect(try mode(path + "/data.mdb") == 0o600)
                #expect(try mode(path + "/lock.mdb") == 0o600)
                let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                #expect(names == ["data.mdb", "lock.mdb"])
            }
        }

        @Test func aReadOnlyEnvironmentReadsButRefusesWrites() throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            let path = root + "/env"
            do {
                let env = try Environment(options: .init(path: path))
                defer { env.close() }
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: table) }
            }
            var options = Environment.Options(path: path)
            options.readOnly = true
            let env = try Environment(options: options)
            defer { env.close() }
            let table = try #require(try env.table(named: "t", create: false))
            #expect(try readValue(env, table, "k") == "v")
            #expect(try allKeys(env, table) == ["k"])
            let invocations = Counter()
            #expect(throws: LMDBError.permissionDenied) {
                try env.write { txn in
                    invocations.increment()
                    try txn.put(bytes("w"), forKey: bytes("k"), in: table)
                }
            }
            #expect(invocations.value == 0)
            #expect(try env.table(named: "missing", create: false) == nil)
            // Even with `create` (the default), a read-only environment creates nothing.
            #expect(try env.table(named: "missing") == nil)
            #expect(try readValue(env, table, "k") == "v")
        }

        @Test func aReadOnlyOpenOfAMissingDirectoryFails() throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            var options = Environment.Options(path: root + "/env")
            options.readOnly = true
            #expect(throws: LMDBError.noSuchFile) { _ = try Environment(options: options) }
            #expect(!FileManager.default.fileExists(atPath: root + "/env"))
        }

        @Test(arguments: [false, true])
        func copyMakesAnEnvironmentWithTheSameData(compact: Bool) throws {
            try withScratchEnvironment { env, path in
                let table = try #require(try env.table(named: "t"))
                let other = try #require(try env.table(named: "other"))
                try env.write { txn in
                    for n in 0..<2_000 { try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table) }
                    try txn.put(bytes("v"), forKey: bytes("k"), in: other)
                }
                try env.write { txn in
                    for n in stride(from: 0, to: 2_000, by: 2) { try txn.delete(UInt64(n).bigEndianBytes, in: table) }
                }
                let copyPath = path + "-copy"
                try FileManager.default.createDirectory(atPath: copyPath, withIntermediateDirectories: false)
                try env.copy(to: copyPath, compact: compact)
                // The source goes on working after the copy.
                try env.write { txn in try txn.put(bytes("later"), forKey: bytes("later"), in: other) }

                let copy = try Environment(options: .init(path: copyPath))
                defer { copy.close() }
                let copiedTable = try #require(try copy.table(named: "t", create: false))
                let copiedOther = try #require(try copy.table(named: "other", create: false))
                let original = try allEntries(env, table)
                let copied = try allEntries(copy, copiedTable)
                #expect(copied.count == 1_000)
                #expect(copied.map(\.key) == original.map(\.key))
                #expect(copied.map(\.value) == original.map(\.value))
                #expect(try allKeys(copy, copiedOther) == ["k"])
                // The copy is a full environment: it takes writes.
                try copy.write { txn in try txn.put(bytes("w"), forKey: bytes("w"), in: copiedOther) }
                #expect(try allKeys(copy, copiedOther) == ["k", "w"])
            }
        }

        @Test func aCompactCopyLeavesOutFreePages() throws {
            try withScratchEnvironment { env, path in
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in
                    for n in 0..<5_000 { try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table) }
                }
                try env.write { txn in
                    for n in 0..<4_900 { try txn.delete(UInt64(n).bigEndianBytes, in: table) }
                }
                func copySize(compact: Bool) throws -> Int {
                    let target = path + (compact ? "-compact" : "-plain")
                    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
                    try env.copy(to: target, compact: compact)
                    let attributes = try FileManager.default.attributesOfItem(atPath: target + "/data.mdb")
                    return try #require(attributes[.size] as? Int)
                }
                let plain = try copySize(compact: false)
                let compacted = try copySize(compact: true)
                #expect(compacted < plain / 4)
            }
        }

        @Test func copyIntoAMissingDirectoryFails() throws {
            try withScratchEnvironment { env, path in
                #expect(throws: LMDBError.noSuchFile) { try env.copy(to: path + "-nowhere") }
            }
        }

        @Test func infoReportsTheMapAndItsReaders() throws {
            try withScratchEnvironment({ $0.mapSize = 1 << 20; $0.maxReaders = 50 }) { env, _ in
                let info = env.info()
                #expect(info.mapSize == 1 << 20)
                #expect(info.maxReaders >= 50)
                #expect(info.pageSize >= 512 && info.pageSize & (info.pageSize - 1) == 0)
                #expect(info.readersInUse == 0)
                #expect(info.usedBytes == (info.lastPageNumber + 1) * info.pageSize)
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in
                    for n in 0..<1_000 { try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table) }
                }
                #expect(env.info().lastPageNumber > info.lastPageNumber)
                #expect(env.info().usedBytes > 100_000)
                // Every open read transaction holds a reader slot; the count drops when it ends.
                try env.read { _ in
                    #expect(env.info().readersInUse == 1)
                    try env.read { _ in #expect(env.info().readersInUse == 2) }
                    #expect(env.info().readersInUse == 1)
                }
                #expect(env.info().readersInUse == 0)
                #expect(env.info().readerSlotsUsed >= 2)
            }
        }

        /// `info()` cannot throw; on a closed environment it traps with a message instead of
        /// reading freed memory.
        @Test func infoOnAClosedEnvironmentTraps() async throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [root = root as String] in
                let env = try Environment(options: .init(path: root + "/env"))
                env.close()
                _ = env.info()
            }
            let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
            #expect(stderr.contains("info() on a closed environment"))
        }

        @Test func libraryVersionNamesLMDB() {
            #expect(Environment.libraryVersion.contains("LMDB"))
        }
    }
}
