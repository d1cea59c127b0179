import Foundation
import Testing
import TollgateLMDB

extension LMDBTests {
    /// Many threads on one environment. Each test starts its own threads and bounds them with a
    /// timeout, so a deadlock fails the test instead of hanging the run.
    @Suite struct Concurrency {
        /// Writes are serialized: no read-modify-write increment is lost.
        @Test func concurrentIncrementsInWriteLoseNothing() throws {
            let threads = 8
            let increments = 500
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "counter"))
                let key = bytes("counter")
                try env.write { txn in try txn.put(UInt64(0).bigEndianBytes, forKey: key, in: table) }
                let failures = FailureLog()
                let finished = runOnThreads(threads) { _ in
                    do {
                        for _ in 0..<increments {
                            try env.write { txn in
                                let current = try txn.value(in: table, forKey: key).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
                                try txn.put((current + 1).bigEndianBytes, forKey: key, in: table)
                            }
                        }
                    } catch {
                        failures.record("\(error)")
                    }
                }
                try requireFinished(finished, abandoning: env, "the writers")
                #expect(failures.all.isEmpty)
                let final = try env.read { txn in try txn.value(in: table, forKey: key).flatMap { UInt64(bigEndianBytes: $0) } }
                #expect(final == UInt64(threads * increments))
            }
        }

        /// Readers keep reading consistent snapshots while a writer grows a tiny map many times
        /// over (each growth waits until no transaction of the process is open).
        @Test func readersDuringMapGrowthNeitherCrashNorDeadlock() throws {
            try withScratchEnvironment({ $0.mapSize = 32 << 10 }) { env, _ in
                let table = try #require(try env.table(named: "t"))
                let countKey = bytes("count")
                let readerThreads = 4
                let batches = 150
                let writerDone = Counter()
                let reads = Counter()
                let failures = FailureLog()
                let finished = runOnThreads(readerThreads + 1) { index in
                    do {
                        if index == 0 {
                            // The writer: 150 × 100 entries of 100 bytes, plus a count kept in step.
                            defer { writerDone.increment() }
                            for batch in 0..<batches {
                                try env.write { txn in
                                    for n in batch * 100..<(batch + 1) * 100 {
                                        try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table)
                                    }
                                    try txn.put(UInt64((batch + 1) * 100).bigEndianBytes, forKey: countKey, in: table)
                                }
                            }
                        } else {
                            // A reader: in every snapshot, the count agrees with the entries.
                            while writerDone.value == 0 {
                                try env.read { txn in
                                    let count = try txn.value(in: table, forKey: countKey).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
                                    let entries = try txn.statistics(of: table).entries
                                    if entries != (count == 0 ? 0 : Int(count) + 1) {
                                        failures.record("snapshot with count \(count) holds \(entries) entries")
                                    }
                                    if count > 0, try txn.value(in: table, forKey: UInt64(count - 1).bigEndianBytes) != value100(Int(count - 1)) {
                                        failures.record("snapshot with count \(count) misses its last entry")
                                    }
                                }
                                reads.increment()
                            }
                        }
                    } catch {
                        failures.record("thread \(index): \(error)")
                    }
                }
                try requireFinished(finished, abandoning: env, "the readers and the writer")
                #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
                #expect(reads.value > 0)
                #expect(env.info().mapSize > 1 << 20)
                #expect(try entryCount(env, table) == batches * 100 + 1)
            }
        }

        /// `info()` and `copy(to:)` while another thread grows the map: they must not look at
        /// (or copy from) a map that is being replaced. Before the layer ran them under its map
        /// lock, `mdb_env_info` read unmapped memory here (SIGSEGV in about one run of four);
        /// hence several rounds, each with a fresh tiny map.
        @Test func infoAndCopyDuringMapGrowthAreSafe() throws {
            for _ in 0..<4 {
                try withScratchEnvironment({ $0.mapSize = 32 << 10 }) { env, path in
                    let table = try #require(try env.table(named: "t"))
                    let writerDone = Counter()
                    let failures = FailureLog()
                    let copies = Counter()
                    let infos = Counter()
                    let finished = runOnThreads(3) { index in
                        do {
                            switch index {
                            case 0:
                                defer { writerDone.increment() }
                                for batch in 0..<100 {
                                    try env.write { txn in
                                        for n in batch * 100..<(batch + 1) * 100 {
                                            try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table)
                                        }
                                    }
                                }
                            case 1:
                                // At least once: on a loaded machine the writer can finish before
                                // this thread is first scheduled.
                                repeat {
                                    let info = env.info()
                                    if info.usedBytes > info.mapSize { failures.record("used \(info.usedBytes) > map \(info.mapSize)") }
                                    infos.increment()
                                } while writerDone.value == 0
                            default:
                                while writerDone.value == 0 {
                                    let target = path + "-copy-\(copies.value)"
                                    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
                                    try env.copy(to: target, compact: copies.value % 2 == 1)
                                    try FileManager.default.removeItem(atPath: target)
                                    copies.increment()
                                }
                            }
                        } catch {
                            failures.record("thread \(index): \(error)")
                        }
                    }
                    try requireFinished(finished, abandoning: env, "the writer, info and copy threads")
                    #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
                    #expect(infos.value > 0)
                    #expect(try entryCount(env, table) == 10_000)
                }
            }
        }

        /// Concurrent writers on a tiny map: growth is requested by several threads at once.
        @Test func concurrentWritersOnATinyMapAllSucceed() throws {
            try withScratchEnvironment({ $0.mapSize = 32 << 10 }) { env, _ in
                let table = try #require(try env.table(named: "t"))
                let failures = FailureLog()
                let threads = 4
                let finished = runOnThreads(threads) { index in
                    do {
                        for batch in 0..<25 {
                            try env.write { txn in
                                for i in 0..<100 {
                                    let n = (index * 25 + batch) * 100 + i
                                    try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table)
                                }
                            }
                        }
                    } catch {
                        failures.record("thread \(index): \(error)")
                    }
                }
                try requireFinished(finished, abandoning: env, "the writers")
                #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
                #expect(try entryCount(env, table) == threads * 25 * 100)
            }
        }

        /// `close()` waits for a transaction of another thread to end (which then commits);
        /// later calls throw.
        @Test func closeWaitsForATransactionOfAnotherThread() throws {
            try withScratchEnvironment { env, path in
                let table = try #require(try env.table(named: "t"))
                let inside = DispatchSemaphore(value: 0)
                let failures = FailureLog()
                let finished = runOnThreads(2) { index in
                    if index == 0 {
                        do {
                            try env.write { txn in
                                inside.signal()
                                Thread.sleep(forTimeInterval: 0.2)
                                try txn.put(bytes("v"), forKey: bytes("k"), in: table)
                            }
                        } catch {
                            failures.record("write failed: \(error)")
                        }
                    } else {
                        inside.wait()
                        env.close()
                    }
                }
                try requireFinished(finished, abandoning: env, "the writer and the closer")
                #expect(failures.all.isEmpty)
                #expect(env.isClosed)
                #expect(throws: LMDBError.invalidArgument) { try env.read { _ in } }
                let reopened = try Environment(options: .init(path: path))
                defer { reopened.close() }
                let again = try #require(try reopened.table(named: "t", create: false))
                #expect(try readValue(reopened, again, "k") == "v")
            }
        }
    }
}
