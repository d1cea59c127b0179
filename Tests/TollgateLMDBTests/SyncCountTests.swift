#if DEBUG // Environment.syncCount exists only in debug builds.
import Testing
import TollgateLMDB

extension LMDBTests {
    /// The debug-only sync counter that the store's durability tests rely on: it must count
    /// exactly the commits and flushes that reach the disk, or those tests prove nothing.
    @Suite struct SyncCountTests {
        @Test func aDurableCommitThatWritesCountsOneSyncAndAnEmptyOneNone() throws {
            try withScratchEnvironment({ $0.durability = .durable }) { env, _ in
                let table = try #require(try env.table(named: "t"))
                let start = env.syncCount
                try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: table) }
                #expect(env.syncCount == start + 1)
                try env.write { txn in try txn.put(bytes("w"), forKey: bytes("k"), in: table) }
                #expect(env.syncCount == start + 2)
                // Nothing written: LMDB commits without touching the disk.
                try env.write { _ in }
                #expect(env.syncCount == start + 2)
                // An aborted transaction syncs nothing either.
                struct Stop: Error {}
                #expect(throws: Stop.self) {
                    try env.write { txn in
                        try txn.put(bytes("x"), forKey: bytes("k"), in: table)
                        throw Stop()
                    }
                }
                #expect(env.syncCount == start + 2)
                try env.sync(force: false)
                #expect(env.syncCount == start + 3)
            }
        }

        @Test func noSyncCommitsCountNothingUntilAForcedSync() throws {
            try withScratchEnvironment({ $0.durability = .noSync }) { env, _ in
                let table = try #require(try env.table(named: "t"))
                let start = env.syncCount
                for index in 0..<10 {
                    try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k\(index)"), in: table) }
                }
                #expect(env.syncCount == start)
                // LMDB ignores an unforced sync of an MDB_NOSYNC environment.
                try env.sync(force: false)
                #expect(env.syncCount == start)
                try env.sync(force: true)
                #expect(env.syncCount == start + 1)
            }
        }

        @Test func aFailedSyncIsNotCounted() throws {
            FaultInjection.clear()
            defer { FaultInjection.clear() }
            try withScratchEnvironment({ $0.durability = .noSync }) { env, _ in
                let start = env.syncCount
                FaultInjection.inject(.ioError, into: .sync)
                #expect(throws: LMDBError.ioError) { try env.sync(force: true) }
                #expect(env.syncCount == start)
            }
        }
    }
}
#endif
