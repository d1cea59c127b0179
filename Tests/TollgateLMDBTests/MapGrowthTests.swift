import Testing
import TollgateLMDB

extension LMDBTests {
    /// The map starts tiny and grows by itself; `maxMapSize` bounds it.
    @Suite struct MapGrowth {
        static let tinyMap = 32 << 10
        static let totalEntries = 20_000

        private func tiny(_ options: inout Environment.Options) {
            options.mapSize = Self.tinyMap
        }

        private func expectAllEntries(_ env: Environment, _ table: Table, count: Int = totalEntries) throws {
            #expect(try entryCount(env, table) == count)
            let mismatches = try env.read { txn in
                var mismatches = 0
                for n in 0..<count where try txn.value(in: table, forKey: UInt64(n).bigEndianBytes) != value100(n) {
                    mismatches += 1
                }
                return mismatches
            }
            #expect(mismatches == 0)
        }

        @Test func aTinyMapIsAccepted() throws {
            try withScratchEnvironment(tiny) { env, _ in
                #expect(env.info().mapSize <= 64 << 10)
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: table) }
                #expect(try readValue(env, table, "k") == "v")
            }
        }

        @Test func manySmallTransactionsGrowATinyMap() throws {
            try withScratchEnvironment(tiny) { env, _ in
                let table = try #require(try env.table(named: "t"))
                for batch in 0..<200 {
                    try env.write { txn in
                        for n in batch * 100..<(batch + 1) * 100 {
                            try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table)
                        }
                    }
                }
                #expect(env.info().mapSize > 2_000_000)
                #expect(env.info().mapSize >= env.info().usedBytes)
                try expectAllEntries(env, table)
            }
        }

        /// A full map aborts the transaction, grows the map and runs the body again from the
        /// start, so a body must be safe to repeat: here it counts its own runs, and only the
        /// last run's writes and result are kept.
        @Test func oneBigTransactionGrowsATinyMapAndRunsItsBodyAgain() throws {
            try withScratchEnvironment(tiny) { env, _ in
                let table = try #require(try env.table(named: "t"))
                let invocations = Counter()
                let result = try env.write { txn in
                    invocations.increment()
                    for n in 0..<Self.totalEntries {
                        try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table)
                    }
                    return "run \(invocations.value)"
                }
                // 32 KiB → 1.06 MiB → 2.1 MiB → 4.2 MiB → 8.4 MiB: several full maps, several runs.
                #expect(invocations.value >= 3)
                #expect(result == "run \(invocations.value)")
                #expect(env.info().mapSize > 2_000_000)
                try expectAllEntries(env, table)
            }
        }

        @Test func reachingMaxMapSizeThrowsMapFullAndKeepsWhatWasCommitted() throws {
            try withScratchEnvironment({ $0.mapSize = Self.tinyMap; $0.maxMapSize = 512 << 10 }) { env, _ in
                let table = try #require(try env.table(named: "t"))
                // One transaction too big for the largest map: nothing of it stays.
                let invocations = Counter()
                var caught = false
                do {
                    try env.write { txn in
                        invocations.increment()
                        for n in 0..<Self.totalEntries {
                            try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table)
                        }
                    }
                    Issue.record("no error")
                } catch LMDBError.mapFull {
                    caught = true
                }
                #expect(caught)
                #expect(invocations.value == 2) // 32 KiB, then 512 KiB (the maximum)
                #expect(env.info().mapSize == 512 << 10)
                #expect(try entryCount(env, table) == 0)

                // Small transactions fill it up to the brim; earlier commits stay.
                var committed = 0
                #expect(throws: LMDBError.mapFull) {
                    for batch in 0..<Self.totalEntries / 100 {
                        try env.write { txn in
                            for n in batch * 100..<(batch + 1) * 100 {
                                try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table)
                            }
                        }
                        committed += 100
                    }
                }
                #expect(committed > 1_000)
                #expect(env.info().mapSize <= 512 << 10)
                try expectAllEntries(env, table, count: committed)

                // Deleting frees pages, and the environment takes writes again.
                try env.write { txn in try txn.removeAll(in: table) }
                try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: table) }
                #expect(try readValue(env, table, "k") == "v")
            }
        }

        /// The file keeps its grown size: a reopen with a tiny `mapSize` adopts it.
        @Test func aGrownMapIsAdoptedOnReopen() throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            var options = Environment.Options(path: root + "/env")
            options.mapSize = Self.tinyMap
            options.durability = .noSync
            var grownSize = 0
            do {
                let env = try Environment(options: options)
                defer { env.close() }
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in
                    for n in 0..<Self.totalEntries / 2 { try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table) }
                }
                grownSize = env.info().mapSize
                #expect(grownSize > 1 << 20)
            }
            let env = try Environment(options: options)
            defer { env.close() }
            #expect(env.info().mapSize >= env.info().usedBytes)
            let table = try #require(try env.table(named: "t", create: false))
            try env.write { txn in
                for n in Self.totalEntries / 2..<Self.totalEntries { try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table) }
            }
            try expectAllEntries(env, table)
        }
    }
}
