import Foundation
import Testing
@testable import Tollgate
import TollgateTestSupport

/// Read-only commands read from one snapshot and must never hold up a server's writes: a
/// `tollgate dump` stuck on a full pipe (an operator's `| less` left open) keeps its read
/// transaction, and the server sharing the store goes on committing.
@Suite struct ReadOnlyCLITests {
    @Test(.timeLimit(.minutes(2)))
    func aDumpStuckOnAFullPipeDoesNotBlockAWriter() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "per-user", limits: [Limit(name: "user", strategy: .fixedWindow, quantity: 10, windowMicroseconds: 3_600_000_000, subject: .custom("user"))]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "per-user"))
        // Enough counters that their dump overfills a pipe buffer (64 KiB) many times over.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for user in 0..<3_000 {
                group.addTask { _ = try await store.authorize(key: key.secret, subjects: ["user": "user-\(user)-padding-padding"]) }
            }
            try await group.waitForAll()
        }
        let readersBefore = store.environment.info().readersInUse

        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["dump", "--table", "counters"]
        var environment = ProcessInfo.processInfo.environment
        environment["TOLLGATE_STORE"] = store.options.path
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // The dump fills the pipe and blocks inside its snapshot.
        var holding = false
        for _ in 0..<500 where !holding {
            try await Task.sleep(for: .milliseconds(20))
            holding = process.isRunning && store.environment.info().readersInUse > readersBefore
        }
        #expect(holding, "the dump never held a read snapshot open")
        try await Task.sleep(for: .milliseconds(300))
        #expect(process.isRunning, "the dump finished instead of blocking on its full pipe")

        // Writes of every kind commit while it is stuck.
        let started = ContinuousClock.now
        let other = try store.createKey(NewKey(owner: "acme", tier: "per-user"))
        #expect(try await store.authorize(key: other.secret, subjects: ["user": "new"]).isAllowed)
        #expect(try store.authorize(synchronously: AuthorizationRequest(key: key.secret, subjects: ["user": "newer"])).isAllowed)
        try store.setTier(Tier(name: "second", limits: [.perHour(5)]))
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(5), "writes took \(elapsed) while a dump was open")
        #expect(process.isRunning, "the writes did not wait for the dump to end")

        // Unstuck, the dump finishes with its snapshot: every counter from before, none after.
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 3_000)
        #expect(!lines.contains { $0.contains("\"newer\"") || $0.contains("=newer") })
    }
}
