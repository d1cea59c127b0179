import Foundation
import Testing
import TollgateLMDB

extension LMDBTests {
    /// A process killed inside a read transaction leaves its reader slot behind (it pins old
    /// pages: the file would grow forever). `mdb_reader_check` finds and clears such slots.
    ///
    /// The other process is a Swift Testing exit test: the test binary started again by
    /// posix_spawn, running only the closure (no `fork()` of this multi-threaded process).
    /// This process keeps the environment open all along: if it closed it, the next opener
    /// would find the lock file unused and reset the whole reader table, hiding the slot.
    @Suite struct ReaderCheck {
        /// Runs a child that opens `path`, begins a read transaction, tells its pid through a
        /// file and blocks; then kills it with SIGKILL from here.
        private func killChildInsideReadTransaction(path: String) async throws {
            let pidFile = path + "-child.pid"
            async let outcome = #expect(processExitsWith: .signal(SIGKILL)) { [path = path as String, pidFile = pidFile as String] in
                alarm(30) // if the parent never kills it, SIGALRM (not SIGKILL) fails the test
                let env = try Environment(options: .init(path: path))
                try env.read { _ in
                    let pid = "\(getpid())"
                    try pid.write(toFile: pidFile + ".tmp", atomically: false, encoding: .utf8)
                    rename(pidFile + ".tmp", pidFile)
                    while true { pause() }
                }
            }
            var pid: pid_t?
            for _ in 0..<1_000 where pid == nil {
                if let text = try? String(contentsOfFile: pidFile, encoding: .utf8) {
                    pid = pid_t(text)
                } else {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let child = try #require(pid, "the child never reported its pid")
            #expect(kill(child, SIGKILL) == 0)
            _ = await outcome
        }

        @Test func checkReadersClearsTheSlotOfAKilledProcess() async throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            let path = root + "/env"
            let env = try Environment(options: .init(path: path))
            defer { env.close() }
            let table = try #require(try env.table(named: "t"))
            try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: table) }
            #expect(env.info().readersInUse == 0)
            #expect(try env.checkReaders() == 0)

            try await killChildInsideReadTransaction(path: path)

            #expect(env.info().readersInUse == 1) // the dead child's slot
            #expect(try env.checkReaders() == 1)
            #expect(env.info().readersInUse == 0)
            #expect(try env.checkReaders() == 0)
            // Business as usual.
            try env.write { txn in try txn.put(bytes("w"), forKey: bytes("k2"), in: table) }
            #expect(try allKeys(env, table) == ["k", "k2"])
        }

        /// Opening the environment runs the same check: a second child that merely opens it
        /// clears the slot the first one left.
        @Test func openingTheEnvironmentClearsStaleSlots() async throws {
            let root = try makeScratchDirectory()
            defer { removeScratchDirectory(root) }
            let path = root + "/env"
            let env = try Environment(options: .init(path: path))
            defer { env.close() }

            try await killChildInsideReadTransaction(path: path)
            #expect(env.info().readersInUse == 1)

            await #expect(processExitsWith: .success) { [path = path as String] in
                let env = try Environment(options: .init(path: path))
                env.close()
            }
            #expect(env.info().readersInUse == 0)
            #expect(try env.checkReaders() == 0)
        }

        /// The read transaction of a live process (another thread of this one) is not stale.
        @Test func aLiveReaderIsNotCleared() throws {
            try withScratchEnvironment { env, _ in
                let entered = DispatchSemaphore(value: 0)
                let release = DispatchSemaphore(value: 0)
                let failures = FailureLog()
                let finished = runOnThreads(2, timeout: 10) { index in
                    if index == 0 {
                        do {
                            try env.read { _ in
                                entered.signal()
                                release.wait()
                            }
                        } catch {
                            failures.record("\(error)")
                        }
                    } else {
                        entered.wait()
                        defer { release.signal() }
                        do {
                            let cleared = try env.checkReaders()
                            let inUse = env.info().readersInUse
                            if cleared != 0 || inUse != 1 { failures.record("cleared \(cleared), in use \(inUse)") }
                        } catch {
                            failures.record("\(error)")
                        }
                    }
                }
                try requireFinished(finished, abandoning: env, "the reader and the checker")
                #expect(failures.all.isEmpty, "\(failures.all)")
                #expect(env.info().readersInUse == 0)
            }
        }
    }
}
