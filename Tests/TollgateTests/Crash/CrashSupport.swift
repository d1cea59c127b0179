import Foundation
import Synchronization
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Every test that runs the `tollgate-stress` child process. `.serialized` applies to the nested
/// suites too: one such test at a time, so children never compete with each other for the two
/// cores (other suites of the test process still run alongside).
///
/// `swift test --filter Crash` runs them all; `TOLLGATE_CRASH_TRIALS` sets how many kill trials
/// the recovery tests run in total (default 200).
@Suite(.serialized)
enum Crash {
    /// The kill trials of the whole crash suite, shared out among its tests.
    static let totalTrials: Int = {
        let text = ProcessInfo.processInfo.environment["TOLLGATE_CRASH_TRIALS"] ?? ""
        return Int(text).map { max($0, 10) } ?? 200
    }()

    /// `fraction` of ``totalTrials``, at least 4.
    static func trials(_ fraction: Double) -> Int { max(4, Int((Double(totalTrials) * fraction).rounded())) }
}

// MARK: - The workload binary

enum WorkloadBinary {
    /// `tollgate-stress` (target TollgateStress), built by `swift build --build-tests` (and by
    /// `swift test`) into the same directory as the test bundle and the CLI.
    /// `TOLLGATE_STRESS` overrides the search.
    static let path: String? = {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["TOLLGATE_STRESS"], !explicit.isEmpty { candidates.append(explicit) }
        let name = "tollgate-stress"
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(name).path)
        }
        candidates.append(CLI.binary.deletingLastPathComponent().appendingPathComponent(name).path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static func require() throws -> String {
        try #require(path, "tollgate-stress was not found next to the test bundle: build with `swift build --build-tests` (or set TOLLGATE_STRESS)")
    }
}

/// What a workload printed: only what it printed after the store answered.
struct WorkloadOutput {
    var ready = false
    /// The `remaining` of every acknowledged allowed decision.
    var allowedRemaining: [UInt64] = []
    var denied = 0
    var createdKeys: [String] = []
    /// `S …` lines: sweeps that returned (mode `sweep`).
    var sweeps = 0
    /// Stale counters those sweeps removed.
    var sweptCounters = 0
    /// `B <directory>` lines: backups that returned (mode `backup`).
    var backups: [String] = []
    /// `X …`, `E …` or anything else unexpected.
    var unexpected: [String] = []

    /// Parses complete lines only: a SIGKILL may cut the last `write(2)` short.
    init(_ text: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast() // what follows the last newline: empty, or a cut line
        for line in lines {
            if line == "R" {
                ready = true
            } else if line == "D" {
                denied += 1
            } else if line.hasPrefix("A "), let remaining = UInt64(line.dropFirst(2)) {
                allowedRemaining.append(remaining)
            } else if line.hasPrefix("K ") {
                createdKeys.append(String(line.dropFirst(2)))
            } else if line.hasPrefix("S "), let counters = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
                sweeps += 1
                sweptCounters += counters
            } else if line.hasPrefix("B ") {
                backups.append(String(line.dropFirst(2)))
            } else {
                unexpected.append(String(line))
            }
        }
    }
}

/// One run of the workload, its standard output and error going to files.
final class WorkloadProcess {
    let process = Process()
    let outputPath: String
    let errorPath: String
    /// Where the child's ``PhaseMarker`` publishes the LMDB phases its threads are in.
    let phasePath: String

    init(_ arguments: [String], logs: String) throws {
        outputPath = logs + ".out"
        errorPath = logs + ".err"
        phasePath = logs + ".phase"
        unlink(phasePath)
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let output = try #require(FileHandle(forWritingAtPath: outputPath))
        let error = try #require(FileHandle(forWritingAtPath: errorPath))
        defer {
            try? output.close()
            try? error.close()
        }
        process.executableURL = URL(fileURLWithPath: try WorkloadBinary.require())
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no" // a crash report would keep a dying child alive
        environment[PhaseMarker.environmentVariable] = phasePath
        process.environment = environment
        try process.run()
    }

    /// A test that stops early (a failed `#require`) must not leave its children running.
    deinit {
        if process.isRunning {
            Glibc.kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    var pid: pid_t { process.processIdentifier }

    var output: WorkloadOutput {
        WorkloadOutput((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }

    /// The LMDB phases some thread of the child was in when it died (read after ``kill()``).
    var phasesAtDeath: Set<LMDBPhase> { PhaseMarker.phases(inFileAt: phasePath) }

    var standardError: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// What to say when the child misbehaved.
    var diagnosis: String {
        let printed = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let tail = printed.split(separator: "\n").suffix(5).joined(separator: " | ")
        return "workload \(process.arguments ?? []) — stderr: \(standardError.prefix(2_000)) — last lines: \(tail)"
    }

    /// Waits until the child printed `R` (set up, deciding). False if it did not within `timeout`
    /// or ended first.
    /// Generous: a debug child on a loaded 2-core machine (the whole suite runs in parallel) has
    /// been seen to take over 15 s to open its store and print `R`.
    func waitUntilReady(timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let bytes = FileManager.default.contents(atPath: outputPath), bytes.starts(with: Array("R\n".utf8)) { return true }
            if !process.isRunning { return false }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return false
    }

    /// Waits for the child to end by itself. False if it still runs after `timeout`.
    func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }

    /// SIGKILL, then waits for the end. True if the signal is what ended it (false: it had ended
    /// by itself before — a failure of the workload).
    func kill() async -> Bool {
        if process.isRunning { Glibc.kill(pid, SIGKILL) }
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
    }
}

// MARK: - What the parent knows

/// Every decision acknowledged to a client so far, over all trials on one store.
struct Ledger {
    let limit: UInt64
    var acknowledgedAllowed: UInt64 = 0
    var acknowledgedDenied = 0
    /// `remaining` values seen so far. Decisions run in serial order, so every admission in one
    /// window leaves a different `remaining`: a value seen twice means two admissions took the
    /// same slot (a lost update).
    var remainingSeen = Set<UInt64>()
    var duplicateRemaining: [UInt64] = []
    var createdKeys: [String] = []
    var unexpected: [String] = []

    init(limit: UInt64) { self.limit = limit }

    mutating func add(_ output: WorkloadOutput) {
        for remaining in output.allowedRemaining { addAllowed(remaining: remaining) }
        acknowledgedDenied += output.denied
        createdKeys += output.createdKeys
        unexpected += output.unexpected
    }

    mutating func add(_ decision: Decision) {
        if decision.isAllowed {
            addAllowed(remaining: decision.limits.first { $0.name == "window" }?.remaining ?? .max)
        } else if decision.outcome == .rateLimited {
            acknowledgedDenied += 1
        } else {
            unexpected.append("parent: \(decision.outcome)")
        }
    }

    private mutating func addAllowed(remaining: UInt64) {
        acknowledgedAllowed += 1
        if !remainingSeen.insert(remaining).inserted { duplicateRemaining.append(remaining) }
    }

    /// The most admissions any acknowledged decision proves: `limit − smallest remaining`.
    var provenAdmitted: UInt64 { remainingSeen.min().map { limit - min($0, limit) } ?? 0 }
}

/// What the store holds, read in one snapshot with every record of every table decoded.
struct StoreInspection {
    /// The shared key's `window` count (0 when it has no counter yet).
    var counter: UInt64 = 0
    /// The shared key's usage ledger, summed over days.
    var usageAllowed: UInt64 = 0
    var usageDenied: UInt64 = 0
    var records = 0
    /// Records that do not decode, or tables that cannot be read.
    var problems: [String] = []

    init(_ store: Store, keyID: String?) {
        let tables = store.tables
        let counterKey = keyID.map { CounterSubject.key(id: $0).tableKey(limit: "window") }
        let usagePrefix = keyID.map { Array($0.utf8) }
        var result = StoreInspection(empty: ())
        func visit(_ txn: borrowing ReadTransaction, _ table: Table, _ decode: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) {
            do {
                try txn.forEach(in: table) { key, value in
                    result.records += 1
                    do { try decode(key, value) } catch { result.problems.append("\(table.name) record \(Array(key).prefix(40)): \(error)") }
                    return .continue
                }
            } catch {
                result.problems.append("cannot read \(table.name): \(error)")
            }
        }
        do {
            try store.environment.read { txn in
                visit(txn, tables.meta) { _, value in _ = try StoreMeta.decode(value) }
                visit(txn, tables.keys) { key, value in
                    guard key.count == 32 else { throw Invalid("key hash of \(key.count) bytes") }
                    _ = try StoredKey.decode(value)
                }
                visit(txn, tables.keyIDs) { key, value in
                    guard KeyID.isValid(String(decoding: key, as: UTF8.self)), value.count == 32 else { throw Invalid("bad key id entry") }
                    guard try txn.contains(Array(value), in: tables.keys) else { throw Invalid("key id points to no key") }
                }
                visit(txn, tables.owners) { _, value in
                    guard value.isEmpty else { throw Invalid("owner index entry with a value") }
                }
                visit(txn, tables.tiers) { _, value in _ = try Tier.decode(value) }
                visit(txn, tables.counters) { key, value in
                    let stored = try StoredCounter.decode(value)
                    if let counterKey, key.elementsEqual(counterKey), case .window(_, let count) = stored.state {
                        result.counter = count
                    }
                }
                visit(txn, tables.usage) { key, value in
                    guard key.count > 4 else { throw Invalid("usage key of \(key.count) bytes") }
                    let usage = try DailyUsage.decode(value, day: 0)
                    if let usagePrefix, key.count == usagePrefix.count + 4, key.starts(with: usagePrefix) {
                        result.usageAllowed += usage.allowed
                        result.usageDenied += usage.denied
                    }
                }
                visit(txn, tables.audit) { key, value in
                    guard key.count == 18 else { throw Invalid("audit key of \(key.count) bytes") }
                    _ = try AuditEvent.decode(value)
                }
            }
        } catch {
            result.problems.append("cannot read the store: \(error)")
        }
        self = result
    }

    private init(empty: Void) {}

    struct Invalid: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

/// A synchronous store call running on a thread of its own, so that a test can wait for it with
/// a deadline: a hung write fails the test instead of hanging it (the thread is then left behind).
final class BackgroundCall<T: Sendable>: Sendable {
    private let outcome = Mutex<Result<T, TollgateError>?>(nil)

    init(_ body: @escaping @Sendable () throws(TollgateError) -> T) {
        let thread = Thread { [self] in
            let result = Result { () throws(TollgateError) -> T in try body() }
            self.outcome.withLock { $0 = result }
        }
        thread.start()
    }

    /// The call's result, or `nil` if it has not returned within `timeout`.
    func result(within timeout: Duration) async -> Result<T, TollgateError>? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let result = outcome.withLock({ $0 }) { return result }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}

/// A uniformly random duration in `range` milliseconds.
func randomMilliseconds(_ range: ClosedRange<Int>) -> Duration { .milliseconds(Int.random(in: range)) }

/// A store's options as the workload opens it (the parent opens the same store).
func crashStoreOptions(path: String, periodic: Bool, mapSize: Int? = nil) -> Store.Options {
    var options = Store.Options(path: path)
    options.durability = periodic ? .periodic(interval: .seconds(3_600)) : .durable
    if let mapSize { options.mapSize = mapSize }
    return options
}

/// The shared key's secret, once a workload published it.
func publishedSecret(_ path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path + ".key") else { return nil }
    let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return secret.isEmpty ? nil : secret
}

/// Seconds from `start` to now.
func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    let elapsed = (ContinuousClock.now - start).components
    return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
}
