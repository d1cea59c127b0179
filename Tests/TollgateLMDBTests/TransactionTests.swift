import Foundation
import Testing
import TollgateLMDB

extension LMDBTests {
    /// `write` commits when its body returns and aborts when it throws; `read` sees snapshots.
    @Suite struct Transactions {
        @Test func writeCommitsWhenTheBodyReturns() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                let result = try env.write { txn in
                    try txn.put(bytes("v1"), forKey: bytes("k1"), in: table)
                    try txn.put(bytes("v2"), forKey: bytes("k2"), in: table)
                    return 42
                }
                #expect(result == 42)
                #expect(try readValue(env, table, "k1") == "v1")
                #expect(try readValue(env, table, "k2") == "v2")
            }
        }

        @Test func writeAbortsWhenTheBodyThrows() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in try txn.put(bytes("before"), forKey: bytes("kept"), in: table) }
                let invocations = Counter()
                #expect(throws: TestFailure(reason: "boom")) {
                    try env.write { txn in
                        invocations.increment()
                        try txn.put(bytes("new"), forKey: bytes("absent"), in: table)
                        try txn.put(bytes("changed"), forKey: bytes("kept"), in: table)
                        _ = try txn.delete(bytes("kept"), in: table)
                        throw TestFailure(reason: "boom")
                    }
                }
                // The body's own error comes out unchanged, the body ran once, nothing of it stuck.
                #expect(invocations.value == 1)
                #expect(try readValue(env, table, "absent") == nil)
                #expect(try readValue(env, table, "kept") == "before")
                #expect(try entryCount(env, table) == 1)
            }
        }

        @Test func aWriteSeesItsOwnChangesAndAReadSeesOnlyCommittedOnes() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in try txn.put(bytes("old"), forKey: bytes("k"), in: table) }
                try env.write { txn in
                    try txn.put(bytes("new"), forKey: bytes("k"), in: table)
                    #expect(try string(txn.value(in: table, forKey: bytes("k"))) == "new")
                    // A read transaction begun meanwhile (same thread) sees the committed snapshot.
                    let seenByReader = try env.read { reader in try string(reader.value(in: table, forKey: bytes("k"))) }
                    #expect(seenByReader == "old")
                }
                #expect(try readValue(env, table, "k") == "new")
            }
        }

        @Test func aReadSnapshotDoesNotChangeWhileAnotherThreadCommits() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in try txn.put(bytes("1"), forKey: bytes("k"), in: table) }
                try env.read { txn throws in
                    #expect(try string(txn.value(in: table, forKey: bytes("k"))) == "1")
                    let done = runOnThreads(1, timeout: 10) { _ in
                        try? env.write { txn in try txn.put(bytes("2"), forKey: bytes("k"), in: table) }
                    }
                    try requireFinished(done, abandoning: env, "the writer thread")
                    #expect(try string(txn.value(in: table, forKey: bytes("k"))) == "1")
                }
                #expect(try readValue(env, table, "k") == "2")
            }
        }

        @Test func transactionIDsGrowByOnePerCommit() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                let first = try env.write { txn in
                    try txn.put(bytes("a"), forKey: bytes("a"), in: table)
                    return txn.id
                }
                let second = try env.write { txn in
                    try txn.put(bytes("b"), forKey: bytes("b"), in: table)
                    return txn.id
                }
                #expect(second == first + 1)
                #expect(try env.read { $0.id } == second)
                #expect(env.info().lastTransactionID == second)
            }
        }

        @Test func transactionsOnAClosedEnvironmentThrowInvalidArgument() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                env.close()
                env.close() // idempotent
                #expect(env.isClosed)
                #expect(throws: LMDBError.invalidArgument) {
                    try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: table) }
                }
                #expect(throws: LMDBError.invalidArgument) { try env.read { _ in } }
                #expect(throws: LMDBError.invalidArgument) { try env.table(named: "other") }
                #expect(throws: LMDBError.invalidArgument) { try env.sync() }
                #expect(throws: LMDBError.invalidArgument) { try env.checkReaders() }
            }
        }

        /// A nested `write` on one thread would wait forever for LMDB's writer lock, which the
        /// outer `write` holds. The layer traps with a message instead. Shown with an exit test:
        /// the body runs in a child process (the test binary, started again by Swift Testing).
        /// `alarm` bounds the child: a deadlock would end as SIGALRM, without the message.
        @Test func nestedWriteOnOneThreadTrapsInsteadOfDeadlocking() async throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [root = root as String] in
                alarm(10)
                let env = try Environment(options: .init(path: root + "/env"))
                try env.write { _ in
                    try env.write { _ in }
                }
            }
            let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
            #expect(stderr.contains("nested write transaction on one thread would deadlock"))
        }

        /// The same through a `read` in between: the thread still holds the writer lock.
        @Test func writeInsideReadInsideWriteTraps() async throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [root = root as String] in
                alarm(10)
                let env = try Environment(options: .init(path: root + "/env"))
                try env.write { _ in
                    try env.read { _ in
                        try env.write { _ in }
                    }
                }
            }
            let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
            #expect(stderr.contains("nested write transaction on one thread would deadlock"))
        }

        /// A write inside a read on the same thread is allowed (no writer lock is held yet).
        @Test func writeInsideReadOnOneThreadWorks() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try env.read { _ in
                    try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: table) }
                }
                #expect(try readValue(env, table, "k") == "v")
                // And the thread's bookkeeping is back to normal: a later write is not "nested".
                try env.write { txn in try txn.put(bytes("w"), forKey: bytes("k"), in: table) }
                #expect(try readValue(env, table, "k") == "w")
            }
        }
    }
}
