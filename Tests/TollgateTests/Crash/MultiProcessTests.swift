import Foundation
import Testing
@testable import Tollgate
import TollgateTestSupport

extension Crash {
    /// Several processes share one store (LMDB's lock file serializes their writers; group commit
    /// is per process): the limit holds exactly across all of them.
    @Suite struct MultiProcessTests {
        static let processes = 4
        static let requestsPerProcess = 1_000
        static let limit: UInt64 = 2_000

        /// 4 processes × many tasks (async API, group commit) or × 4 threads (synchronous API) send
        /// 4 000 requests to one key allowed 2 000 per hour, all starting at once on a store none
        /// of them has created yet (they race to create the store, the tier and the key).
        @Test(arguments: [false, true])
        func admittedIsExactlyTheLimit(synchronous: Bool) async throws {
            try await Self.avoidHourBoundary()
            let directory = TemporaryStore.makeDirectory(prefix: "tollgate-multiprocess")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/store"
            let started = ContinuousClock.now
            let window = Self.hour(of: Date())

            var arguments = [
                "--store", path, "--durability", "durable", "--limit", "\(Self.limit)", "--window-seconds", "3600",
                "--requests", "\(Self.requestsPerProcess)",
            ]
            arguments += synchronous ? ["--sync", "--threads", "4"] : ["--threads", "16"]
            let workers = try (0..<Self.processes).map { try WorkloadProcess(arguments, logs: "\(directory)/p\($0)") }
            var ledger = Ledger(limit: Self.limit)
            for worker in workers {
                let exited = await worker.waitForExit(timeout: .seconds(120))
                try #require(exited, "a workload did not finish within 120 s: \(worker.diagnosis)")
                #expect(worker.process.terminationReason == .exit && worker.process.terminationStatus == 0, "\(worker.diagnosis)")
                let output = worker.output
                #expect(output.allowedRemaining.count + output.denied == Self.requestsPerProcess, "\(worker.diagnosis)")
                ledger.add(output)
            }
            let seconds = secondsSince(started)
            try #require(Self.hour(of: Date()) == window, "the run crossed an hour boundary: its counts span two windows")

            // Exactly the limit, every slot given once.
            let unexpected = ledger.unexpected.count
            #expect(unexpected == 0, "\(ledger.unexpected.prefix(5))")
            #expect(ledger.acknowledgedAllowed == Self.limit)
            let givenTwice = ledger.duplicateRemaining.count
            #expect(givenTwice == 0, "remaining values given twice: \(ledger.duplicateRemaining.prefix(10))")
            let neverGiven = (0..<Self.limit).filter { !ledger.remainingSeen.contains($0) }
            #expect(neverGiven.count == 0, "remaining values never given: \(neverGiven.prefix(10))")
            #expect(ledger.acknowledgedDenied == Self.processes * Self.requestsPerProcess - Int(Self.limit))

            // The store agrees.
            let store = try Store(options: crashStoreOptions(path: path, periodic: false))
            defer { store.close() }
            let secret = try #require(publishedSecret(path))
            let peek = try store.peek(key: secret)
            #expect(peek.outcome == .rateLimited)
            #expect(peek.limits.first { $0.name == "window" }?.remaining == 0)
            let keyID = try #require(peek.key?.id)
            let inspection = StoreInspection(store, keyID: keyID)
            let problems = inspection.problems.count
            #expect(problems == 0, "\(inspection.problems.prefix(5))")
            #expect(inspection.counter == Self.limit)
            #expect(inspection.usageAllowed == Self.limit)
            #expect(inspection.usageDenied == UInt64(ledger.acknowledgedDenied), "every process flushed its denied counts at exit")
            let keys = try store.allKeys()
            #expect(keys.filter { $0.state == .active }.map(\.id) == [keyID], "the racing processes agreed on one key")
            print("multi-process (\(synchronous ? "sync" : "async")): \(Self.processes) processes, \(ledger.acknowledgedAllowed) admitted of \(Self.processes * Self.requestsPerProcess) requests, limit \(Self.limit), \(keys.count) key(s) created, \(String(format: "%.1f", seconds)) s")
        }

        static func hour(of date: Date) -> Int { Int(date.timeIntervalSince1970) / 3_600 }

        /// Fixed windows start on the hour: a run must not straddle one. Runs take a few seconds;
        /// within 30 s of the next hour, wait for it.
        static func avoidHourBoundary() async throws {
            let intoHour = Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 3_600)
            if intoHour > 3_600 - 30 {
                try await Task.sleep(for: .milliseconds(Int((3_600 - intoHour) * 1_000) + 500))
            }
        }
    }
}
