#if DEBUG // FaultInjection exists only in debug builds.
import Foundation
import Testing
import TollgateLMDB

extension LMDBTests {
    /// Failures forced through the debug-only seam: every one gives a clear error, leaves no
    /// partial state, and the environment works normally once the fault is gone.
    ///
    /// The seam is process-wide; see ``LMDBTests`` for why no other test of this target can run
    /// meanwhile. `.serialized` here as well, so these stay serial even if moved out of it.
    /// Every test clears faults before and after itself, so one failing cannot poison the next.
    @Suite(.serialized) struct FaultInjectionTests {
        /// Opens a scratch environment with a table holding "old" = "kept", with no fault armed.
        private func withFaultScratch(
            _ configure: (inout Environment.Options) -> Void = { _ in },
            _ body: (Environment, Table) throws -> Void
        ) throws {
            FaultInjection.clear()
            defer { FaultInjection.clear() }
            try withScratchEnvironment(configure) { env, _ in
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in try txn.put(bytes("kept"), forKey: bytes("old"), in: table) }
                try body(env, table)
            }
        }

        /// Proves the environment still reads, writes and commits normally.
        private func expectWorking(_ env: Environment, _ table: Table, sourceLocation: SourceLocation = #_sourceLocation) throws {
            try env.write { txn in
                try txn.put(bytes("fine"), forKey: bytes("after"), in: table)
                try txn.put(bytes("fine too"), forKey: bytes("after2"), in: table)
            }
            #expect(try readValue(env, table, "after") == "fine", sourceLocation: sourceLocation)
            #expect(try readValue(env, table, "old") == "kept", sourceLocation: sourceLocation)
            try env.write { txn in _ = try txn.delete(bytes("after2"), in: table) }
            #expect(try readValue(env, table, "after2") == nil, sourceLocation: sourceLocation)
        }

        // MARK: First error wins

        /// The body catches a failed put and returns normally: `write` must not commit, must
        /// throw the put's error, and the earlier puts of the body must be gone.
        @Test func aCaughtPutFailureStillAbortsAndThrowsThePutsError() throws {
            try withFaultScratch { env, table in
                FaultInjection.inject(.ioError, into: .put, afterCalls: 2)
                let invocations = Counter()
                var caughtInBody: LMDBError?
                #expect(throws: LMDBError.ioError) {
                    try env.write { txn in
                        invocations.increment()
                        try txn.put(bytes("1"), forKey: bytes("a"), in: table)
                        try txn.put(bytes("2"), forKey: bytes("b"), in: table)
                        do {
                            try txn.put(bytes("3"), forKey: bytes("c"), in: table)
                        } catch {
                            caughtInBody = error as? LMDBError
                        }
                        // Carrying on after the failure changes nothing.
                        try txn.put(bytes("4"), forKey: bytes("d"), in: table)
                        try txn.put(bytes("changed"), forKey: bytes("old"), in: table)
                        return "returned normally"
                    }
                }
                #expect(caughtInBody?.code == EIO)
                #expect(invocations.value == 1)
                #expect(try allKeys(env, table) == ["old"])
                #expect(try readValue(env, table, "old") == "kept")
                try expectWorking(env, table)
            }
        }

        @Test func thePutsErrorWinsOverTheErrorTheBodyThrows() throws {
            try withFaultScratch { env, table in
                FaultInjection.inject(.ioError, into: .put, afterCalls: 1)
                var thrown: (any Error)?
                do {
                    try env.write { txn in
                        try txn.put(bytes("1"), forKey: bytes("a"), in: table)
                        do {
                            try txn.put(bytes("2"), forKey: bytes("b"), in: table)
                        } catch {
                            throw TestFailure(reason: "the body's own error")
                        }
                    }
                } catch {
                    thrown = error
                }
                #expect(thrown as? LMDBError == .ioError)
                #expect(try allKeys(env, table) == ["old"])
                try expectWorking(env, table)
            }
        }

        @Test func aCaughtDeleteFailureStillAborts() throws {
            try withFaultScratch { env, table in
                FaultInjection.inject(.ioError, into: .delete)
                #expect(throws: LMDBError.ioError) {
                    try env.write { txn in
                        try txn.put(bytes("1"), forKey: bytes("a"), in: table)
                        _ = try? txn.delete(bytes("old"), in: table)
                    }
                }
                #expect(try allKeys(env, table) == ["old"])
                try expectWorking(env, table)
            }
        }

        @Test func aCaughtDeleteCurrentFailureStillAborts() throws {
            try withFaultScratch { env, table in
                FaultInjection.inject(.ioError, into: .delete)
                #expect(throws: LMDBError.ioError) {
                    try env.write { txn in
                        try txn.put(bytes("1"), forKey: bytes("a"), in: table)
                        try txn.withCursor(over: table) { cursor in
                            _ = try cursor.first()
                            _ = try? txn.deleteCurrent(&cursor)
                        }
                    }
                }
                #expect(try allKeys(env, table) == ["old"])
                try expectWorking(env, table)
            }
        }

        // MARK: Commit

        /// A failed commit throws and leaves nothing; the transaction handle is freed exactly
        /// once (a double free or a leaked writer lock would crash or hang what follows).
        @Test(arguments: [LMDBError.ioError, .noSpace])
        func aFailedCommitThrowsAndLeavesNothing(error: LMDBError) throws {
            try withFaultScratch { env, table in
                FaultInjection.inject(error, into: .commit)
                let invocations = Counter()
                #expect(throws: error) {
                    try env.write { txn in
                        invocations.increment()
                        try txn.put(bytes("1"), forKey: bytes("a"), in: table)
                        try txn.put(bytes("changed"), forKey: bytes("old"), in: table)
                    }
                }
                #expect(invocations.value == 1)
                #expect(try allKeys(env, table) == ["old"])
                #expect(try readValue(env, table, "old") == "kept")
                // The writer lock was released: other threads can write, and so can this one.
                let failures = FailureLog()
                let finished = runOnThreads(2, timeout: 10) { index in
                    do {
                        try env.write { txn in try txn.put(bytes("t"), forKey: bytes("thread\(index)"), in: table) }
                    } catch {
                        failures.record("\(error)")
                    }
                }
                try requireFinished(finished, abandoning: env, "writers after the failed commit (writer lock not released?)")
                #expect(failures.all.isEmpty)
                for _ in 0..<20 { try expectWorking(env, table) }
                #expect(try allKeys(env, table) == ["after", "old", "thread0", "thread1"])
            }
        }

        @Test func aFailedCommitAfterManyPutsLeavesNothingAndTheFileStaysValid() throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            FaultInjection.clear()
            defer { FaultInjection.clear() }
            let options = Environment.Options(path: root + "/env")
            do {
                let env = try Environment(options: options)
                defer { env.close() }
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in try txn.put(bytes("kept"), forKey: bytes("old"), in: table) }
                FaultInjection.inject(.ioError, into: .commit)
                #expect(throws: LMDBError.ioError) {
                    try env.write { txn in
                        for n in 0..<5_000 { try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table) }
                    }
                }
                #expect(try entryCount(env, table) == 1)
            }
            let env = try Environment(options: options)
            defer { env.close() }
            let table = try #require(try env.table(named: "t", create: false))
            #expect(try allKeys(env, table) == ["old"])
            try expectWorking(env, table)
        }

        // MARK: Disk full, I/O errors

        /// ENOSPC is the disk being full, not the map: no growth, no retry, a clear error.
        @Test func noSpaceOnPutIsReportedAndNotRetried() throws {
            try withFaultScratch { env, table in
                let mapSize = env.info().mapSize
                FaultInjection.inject(.noSpace, into: .put, afterCalls: 3)
                let invocations = Counter()
                var caught: LMDBError?
                do {
                    try env.write { txn in
                        invocations.increment()
                        for n in 0..<10 { try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table) }
                    }
                } catch let error as LMDBError {
                    caught = error
                }
                #expect(caught == .noSpace)
                #expect(caught?.description.contains(String(cString: strerror(ENOSPC))) == true)
                #expect(caught?.description.contains("put into t") == true)
                #expect(invocations.value == 1)
                #expect(env.info().mapSize == mapSize)
                #expect(try allKeys(env, table) == ["old"])
                try expectWorking(env, table)
            }
        }

        /// A repeating fault holds until `clear()`; then everything works again.
        @Test func aRepeatingFaultHoldsUntilCleared() throws {
            try withFaultScratch { env, table in
                FaultInjection.inject(.ioError, into: .put, repeats: true)
                for attempt in 0..<3 {
                    #expect(throws: LMDBError.ioError, "attempt \(attempt)") {
                        try env.write { txn in try txn.put(bytes("x"), forKey: bytes("x\(attempt)"), in: table) }
                    }
                }
                // Reads are not affected by a fault on puts.
                #expect(try allKeys(env, table) == ["old"])
                FaultInjection.clear()
                try expectWorking(env, table)
            }
        }

        @Test func ioErrorOnBeginTransactionFailsWritesAndReadsBeforeTheirBodies() throws {
            try withFaultScratch { env, table in
                let invocations = Counter()
                FaultInjection.inject(.ioError, into: .beginTransaction)
                #expect(throws: LMDBError.ioError) {
                    try env.write { txn in
                        invocations.increment()
                        try txn.put(bytes("1"), forKey: bytes("a"), in: table)
                    }
                }
                FaultInjection.inject(.ioError, into: .beginTransaction)
                #expect(throws: LMDBError.ioError) {
                    try env.read { _ in invocations.increment() }
                }
                #expect(invocations.value == 0)
                // Both faults were used up: no clear() needed.
                #expect(try allKeys(env, table) == ["old"])
                try expectWorking(env, table)
            }
        }

        /// Injected `MDB_MAP_FULL` once: the map grows and the body runs a second time.
        @Test func anInjectedMapFullGrowsTheMapAndRunsTheBodyAgain() throws {
            try withFaultScratch({ $0.mapSize = 1 << 20 }) { env, table in
                let before = env.info().mapSize
                FaultInjection.inject(.mapFull, into: .put, afterCalls: 1)
                let invocations = Counter()
                try env.write { txn in
                    invocations.increment()
                    try txn.put(bytes("1"), forKey: bytes("a"), in: table)
                    try txn.put(bytes("2"), forKey: bytes("b"), in: table)
                }
                #expect(invocations.value == 2)
                #expect(env.info().mapSize > before)
                #expect(try allKeys(env, table) == ["a", "b", "old"])
            }
        }

        /// `MDB_MAP_FULL` that never goes away ends at `maxMapSize` with `mapFull`.
        @Test func aPersistentMapFullEndsAtMaxMapSize() throws {
            try withFaultScratch({ $0.mapSize = 1 << 20; $0.maxMapSize = 8 << 20 }) { env, table in
                FaultInjection.inject(.mapFull, into: .put, repeats: true)
                let invocations = Counter()
                #expect(throws: LMDBError.mapFull) {
                    try env.write { txn in
                        invocations.increment()
                        try txn.put(bytes("1"), forKey: bytes("a"), in: table)
                    }
                }
                // 1 → 2 → 4 → 8 MiB: four runs, then no more room to grow.
                #expect(invocations.value == 4)
                #expect(env.info().mapSize == 8 << 20)
                FaultInjection.clear()
                #expect(try allKeys(env, table) == ["old"])
                try expectWorking(env, table)
            }
        }

        @Test func mapFullOnCommitAlsoGrowsAndRetries() throws {
            try withFaultScratch({ $0.mapSize = 1 << 20 }) { env, table in
                FaultInjection.inject(.mapFull, into: .commit)
                let invocations = Counter()
                try env.write { txn in
                    invocations.increment()
                    try txn.put(bytes("1"), forKey: bytes("a"), in: table)
                }
                #expect(invocations.value == 2)
                #expect(try allKeys(env, table) == ["a", "old"])
            }
        }

        @Test func syncAndCopyFailuresAreReported() throws {
            try withFaultScratch { env, table in
                FaultInjection.inject(.ioError, into: .sync)
                #expect(throws: LMDBError.ioError) { try env.sync() }
                try env.sync()
                let root = try makeScratchDirectory()
                defer { removeScratchDirectory(root) }
                FaultInjection.inject(.noSpace, into: .copy)
                #expect(throws: LMDBError.noSpace) { try env.copy(to: root) }
                try env.copy(to: root)
                let copy = try Environment(options: .init(path: root))
                defer { copy.close() }
                let copied = try #require(try copy.table(named: "t", create: false))
                #expect(try allKeys(copy, copied) == ["old"])
                try expectWorking(env, table)
            }
        }
    }
}
#endif
