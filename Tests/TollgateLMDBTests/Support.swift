import Foundation
import Synchronization
import Testing
import TollgateLMDB

/// The root of every test in this target. It is `.serialized`, and the trait applies recursively:
/// no two tests of this target ever run at the same time.
///
/// Why: fault injection fires only on the thread that armed it, so parallel tests cannot steal
/// or receive each other's faults; but the fault tests also count LMDB calls on their thread, and
/// several tests here measure reader slots and map sizes of the whole process, which parallel
/// tests would disturb. Serializing costs little (the target runs in a few seconds); tests about
/// concurrency start their own threads, so real parallelism is still exercised inside them.
///
/// Rule for new tests: declare every suite as `extension LMDBTests { @Suite struct … }`.
/// Tests of other targets run in the same process in parallel with these; the per-thread faults
/// keep them apart.
@Suite(.serialized)
enum LMDBTests {}

// MARK: - Scratch directories

/// A fresh, empty directory under the system's temporary directory.
func makeScratchDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("tollgate-lmdb-tests-\(getpid())-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeScratchDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Opens an environment in `<fresh scratch dir>/env` (the layer creates that directory), runs
/// `body`, then closes the environment and removes the scratch directory.
///
/// Durability defaults to `.noSync`: most tests commit often and none of them tests power loss.
@discardableResult
func withScratchEnvironment<R>(
    _ configure: (inout Environment.Options) -> Void = { _ in },
    _ body: (_ env: Environment, _ path: String) throws -> R
) throws -> R {
    let root = try makeScratchDirectory()
    var options = Environment.Options(path: root + "/env")
    options.durability = .noSync
    configure(&options)
    let env: Environment
    do { env = try Environment(options: options) } catch {
        removeScratchDirectory(root)
        throw error
    }
    defer {
        // An abandoned environment may still be in use by hung threads: closing it would wait
        // for them forever, so it stays open (and its directory stays) until the process ends.
        if !isAbandoned(env) {
            env.close()
            removeScratchDirectory(root)
        }
    }
    return try body(env, options.path)
}

// MARK: - Bytes

func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

func string(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

/// A 100-byte value that encodes `n`, so a read-back can tell values apart.
func value100(_ n: Int) -> [UInt8] {
    var value = UInt64(n).bigEndianBytes
    value += [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: 100 - value.count)
    return value
}

/// Every (key, value) of `table` in key order, copied.
func allEntries(_ env: Environment, _ table: Table) throws -> [(key: [UInt8], value: [UInt8])] {
    try env.read { txn in try txn.entries(in: table) }
}

/// The keys of `table` in key order, as text.
func allKeys(_ env: Environment, _ table: Table) throws -> [String] {
    try allEntries(env, table).map { String(decoding: $0.key, as: UTF8.self) }
}

func entryCount(_ env: Environment, _ table: Table) throws -> Int {
    try env.read { txn in try txn.statistics(of: table).entries }
}

func readValue(_ env: Environment, _ table: Table, _ key: String) throws -> String? {
    try string(env.read { txn in try txn.value(in: table, forKey: bytes(key)) })
}

/// An error of the test's own, to tell it apart from the layer's.
struct TestFailure: Error, Equatable {
    var reason = "test failure"
}

// MARK: - Threads

/// Runs `body(0) … body(count - 1)` on `count` new threads at once and waits for all of them.
/// Returns `false` when they did not all finish within `timeout` seconds (a deadlock): the
/// caller must then record a failure and leave the shared state alone (the threads still run).
func runOnThreads(_ count: Int, timeout: Double = 30, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
    let finished = DispatchSemaphore(value: 0)
    for index in 0..<count {
        let thread = Thread {
            body(index)
            finished.signal()
        }
        thread.start()
    }
    let deadline = DispatchTime.now() + timeout
    for _ in 0..<count where finished.wait(timeout: deadline) == .timedOut {
        return false
    }
    return true
}

private let abandonedEnvironments = Mutex<[Environment]>([])

func isAbandoned(_ env: Environment) -> Bool {
    abandonedEnvironments.withLock { $0.contains { $0 === env } }
}

/// Fails the test when threads did not finish in time (a deadlock, most likely), without
/// hanging the run: `env` is kept alive and never closed, since `close()` would wait for the
/// hung threads' transactions. Returns normally when `finished`.
func requireFinished(
    _ finished: Bool, abandoning env: Environment, _ what: String = "threads",
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    guard !finished else { return }
    abandonedEnvironments.withLock { $0.append(env) }
    Issue.record("\(what) did not finish in time: deadlock?", sourceLocation: sourceLocation)
    throw TestFailure(reason: "threads hung")
}

/// Failures seen on other threads, checked afterwards on the test's own thread.
final class FailureLog: Sendable {
    private let messages = Mutex<[String]>([])
    func record(_ message: String) { messages.withLock { $0.append(message) } }
    var all: [String] { messages.withLock { $0 } }
}

/// A counter shared with closures that may run several times.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
