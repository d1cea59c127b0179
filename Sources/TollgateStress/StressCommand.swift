import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import Tollgate
#if canImport(Glibc)
import Glibc
#endif

/// `tollgate-stress`: the crash suite's workload. Opens a store, makes sure it holds the
/// tier `crash` and one shared key, then decides requests in a tight loop, printing one line per
/// **acknowledged** outcome — only after the store returned it. The crash tests
/// (Tests/TollgateTests/Crash) kill it with SIGKILL at random moments and compare what it printed
/// with what the store holds afterwards.
///
/// ```
/// tollgate-stress --store PATH [--durability durable|periodic] [--sync-interval-ms N]
///                 [--mode authorize|grow-subjects|grow-keys|sweep|backup] [--threads N] [--sync]
///                 [--limit L] [--window-seconds W] [--requests R] [--map-size BYTES]
///                 [--max-seconds S] [--backup-dir DIR]
/// ```
///
/// Output, one line each, written with `write(2)` (no buffering):
/// - `R` — set up, the loops start; always the first line;
/// - `A <remaining>` — an allowed decision, with what its `window` limit has left after it;
/// - `D` — a request refused by a limit;
/// - `K <key id>` — a key created (mode `grow-keys`);
/// - `S <counters> <batches>` — a `sweep(batchSize: 50)` returned, having removed `counters`
///   stale counters (mode `sweep`);
/// - `B <directory>` — a `backup(to: directory)` returned (mode `backup`);
/// - `X <outcome>` — any other outcome (a bug in this setup);
/// - `E <code> <message>` — an error; the workload then exits with status 3.
///
/// Mode `sweep` adds a per-`user` limit with a 50 ms window and sends a new `user` with every
/// request, so counters go stale all the time; one thread sweeps them in a loop. Mode `backup`
/// backs the store up in a loop, to `DIR/backup-1`, `DIR/backup-2`… (`DIR`: `--backup-dir`,
/// default `PATH.backups`), while the other tasks decide.
///
/// The shared key's secret lives in `PATH.key` (mode 0600). Concurrent first runs agree on one:
/// each writes its secret to a file of its own, created with `O_EXCL`, and publishes it with
/// `link(2)`, which fails when `PATH.key` exists already. A run that loses the race revokes the
/// key it created and uses the winner's. A run killed before publishing leaves no key file, so
/// the next run starts over.
@main
struct Stress: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tollgate-stress",
        abstract: "The crash suite's workload: decide requests in a loop, printing every acknowledged outcome."
    )

    @Option(help: "The store's directory (created if missing).") var store: String
    @Option(help: "durable or periodic.") var durability: StressArguments.Durability = .durable
    @Option(name: .customLong("sync-interval-ms"), help: "The periodic sync interval.") var syncIntervalMilliseconds = 3_600_000
    @Option(help: "authorize, grow-subjects, grow-keys, sweep or backup.") var mode: StressArguments.Mode = .authorize
    @Option(help: "Tasks (async API) or threads (--sync, grow-keys).") var threads = 16
    @Flag(name: .customLong("sync"), help: "Use the synchronous API from threads.") var synchronous = false
    @Option(help: "The `window` limit's quantity.") var limit: UInt64 = 1_000_000
    /// 100 years: the fixed window [1970, 2070) holds every test run.
    @Option(help: "The `window` limit's window.") var windowSeconds: Int64 = 3_153_600_000
    @Option(help: "Requests to send in all (default: no end).") var requests: Int?
    @Option(help: "The store's initial map size.") var mapSize: Int?
    @Option(help: "SIGALRM ends the process after this long.") var maxSeconds: UInt32 = 300
    @Option(help: "Where mode backup writes its backups (default: PATH.backups).") var backupDir: String?

    func validate() throws {
        guard !store.isEmpty else { throw ValidationError("--store is required") }
        guard syncIntervalMilliseconds >= 1, threads >= 1, limit >= 1, windowSeconds >= 1, maxSeconds >= 1 else {
            throw ValidationError("--sync-interval-ms, --threads, --limit, --window-seconds and --max-seconds must be ≥ 1")
        }
        if let requests, requests < 0 { throw ValidationError("--requests must be ≥ 0") }
        if let mapSize, mapSize < 1 { throw ValidationError("--map-size must be ≥ 1") }
    }

    func run() async throws {
        let arguments = StressArguments(
            store: store, durability: durability, syncIntervalMilliseconds: syncIntervalMilliseconds, mode: mode,
            threads: threads, synchronous: synchronous, limit: limit, windowSeconds: windowSeconds, requests: requests,
            mapSize: mapSize, maxSeconds: maxSeconds, backupDirectory: backupDir ?? store + ".backups")
        await StressWorkload.run(arguments)
    }
}

enum StressWorkload {
    static func run(_ arguments: StressArguments) async {
        let output = StressOutput.shared
        // Should the parent die without killing it: SIGALRM ends it (default: after 5 minutes).
        alarm(arguments.maxSeconds)
        do {
            let store = try openStore(arguments)
            try ensureTier(store, arguments)
            let secret = try loadOrCreateKey(store, keyPath: arguments.store + ".key")
            // `R` first: the side loop prints `B`/`S` lines of its own, and the parent takes
            // the first line for the sign that setup is over (a fast backup printed `B` first
            // and made the parent wait for an `R` that was not the first line).
            output.line("R")
            let side = try startSideLoop(store, arguments)
            switch arguments.mode {
            case .authorize, .growSubjects, .sweep, .backup:
                if arguments.synchronous {
                    await runThreads(arguments) { budget, numbering in
                        while budget.take() {
                            output.decision(try store.authorize(key: secret, subjects: arguments.subjects(numbering)))
                        }
                    }
                } else {
                    await runTasks(arguments) { budget, numbering in
                        while budget.take() {
                            output.decision(try await store.authorize(key: secret, subjects: arguments.subjects(numbering)))
                        }
                    }
                }
            case .growKeys:
                await runThreads(arguments) { budget, numbering in
                    while budget.take() {
                        let issued = try store.createKey(NewKey(owner: "crash-\(getpid())", tier: tierName, name: arguments.padding))
                        output.line("K \(issued.info.id)")
                    }
                }
            }
            if let side { await side.wait() }
            store.close()
        } catch {
            output.failure(error)
        }
    }

    static let tierName = "crash"

    static func openStore(_ arguments: StressArguments) throws -> Store {
        var options = Store.Options(path: arguments.store)
        switch arguments.durability {
        case .durable: options.durability = .durable
        case .periodic: options.durability = .periodic(interval: .milliseconds(arguments.syncIntervalMilliseconds))
        }
        if let mapSize = arguments.mapSize { options.mapSize = mapSize }
        if arguments.mode == .sweep { options.sweepInterval = nil } // only the workload's own sweeps
        return try Store(options: options)
    }

    /// The tier `crash`: `window` allows `limit` per `window-seconds` per key (a window far longer
    /// than a test run, so every trial counts in the same window); `grow-subjects` adds a per-`user`
    /// limit, so every request writes a counter of its own and the map has to grow; `sweep` adds
    /// a per-`user` limit with a 50 ms window, so those counters go stale at once.
    static func ensureTier(_ store: Store, _ arguments: StressArguments) throws {
        let window = arguments.windowSeconds * 1_000_000
        var limits = [Limit(name: "window", strategy: .fixedWindow, quantity: arguments.limit, windowMicroseconds: window)]
        if arguments.mode == .growSubjects {
            limits.append(Limit(name: "user", strategy: .fixedWindow, quantity: 1_000_000, windowMicroseconds: window, subject: .custom("user")))
        } else if arguments.mode == .sweep {
            limits.append(Limit(name: "user", strategy: .fixedWindow, quantity: 1_000, windowMicroseconds: 50_000, subject: .custom("user")))
        }
        let tier = Tier(name: tierName, limits: limits)
        if try store.tier(named: tierName) != tier { try store.setTier(tier, actor: "crash-workload") }
    }

    /// Mode `sweep`: sweeps in a loop; mode `backup`: backs up in a loop. On a thread of its own
    /// (both calls block); ends when the workload does. An error ends the process.
    static func startSideLoop(_ store: Store, _ arguments: StressArguments) throws -> SideLoop? {
        switch arguments.mode {
        case .sweep:
            return SideLoop { stopped in
                while !stopped() {
                    let result = try store.sweep(batchSize: 50)
                    StressOutput.shared.line("S \(result.counters) \(result.batches)")
                    usleep(2_000)
                }
            }
        case .backup:
            let directory = arguments.backupDirectory
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else { throw StressSystemError("create \(directory)") }
            return SideLoop { stopped in
                var number = 0
                while !stopped() {
                    number += 1
                    let path = "\(directory)/backup-\(number)"
                    if FileManager.default.fileExists(atPath: path) { continue } // left by an earlier run
                    try store.backup(to: path)
                    StressOutput.shared.line("B \(path)")
                    usleep(2_000)
                }
            }
        default:
            return nil
        }
    }

    /// A loop on a thread of its own, until ``wait()`` asks it to stop.
    final class SideLoop: Sendable {
        private let stopFlag = Atomic<Bool>(false)
        private let done = DispatchSemaphore(value: 0)

        init(_ body: @escaping @Sendable (() -> Bool) throws -> Void) {
            let thread = Thread { [self] in
                do { try body { self.stopFlag.load(ordering: .relaxed) } } catch { StressOutput.shared.failure(error) }
                self.done.signal()
            }
            thread.start()
        }

        func wait() async {
            stopFlag.store(true, ordering: .relaxed)
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async { [self] in
                    done.wait()
                    continuation.resume()
                }
            }
        }
    }

    /// The shared key's secret, from `keyPath`, created (see ``Stress``) if missing.
    static func loadOrCreateKey(_ store: Store, keyPath: String) throws -> String {
        if let secret = try readSecret(keyPath, store) { return secret }
        let issued = try store.createKey(NewKey(owner: "crash", tier: tierName, name: "shared"), actor: "crash-workload")
        let temporary = "\(keyPath).\(getpid()).tmp"
        unlink(temporary) // left by a killed process that had this pid
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StressSystemError("create \(temporary)") }
        let written = fchmod(descriptor, 0o600) == 0 && StressOutput.writeAll(descriptor, Array((issued.secret + "\n").utf8)) && fsync(descriptor) == 0
        let writeError = StressSystemError("write \(temporary)")
        close(descriptor)
        guard written else {
            unlink(temporary)
            throw writeError
        }
        let published = link(temporary, keyPath) == 0
        let linkError = StressSystemError("publish \(keyPath)")
        unlink(temporary)
        if published { return issued.secret }
        guard linkError.code == EEXIST else { throw linkError }
        // Another run published first: use its key, and retire ours.
        try store.revokeKey(id: issued.info.id, actor: "crash-workload")
        guard let secret = try readSecret(keyPath, store) else { throw StressSystemError("read \(keyPath)") }
        return secret
    }

    private static func readSecret(_ path: String, _ store: Store) throws -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard store.keyFormat.parse(secret) == nil else {
            throw StressSystemError("\(path) holds no valid key", code: EINVAL)
        }
        return secret
    }

    /// Runs `body` on `threads` OS threads (the synchronous API blocks its caller). An error
    /// ends the process.
    static func runThreads(_ arguments: StressArguments, _ body: @escaping @Sendable (StressBudget, StressNumbering) throws -> Void) async {
        let budget = StressBudget(arguments.requests)
        let numbering = StressNumbering()
        let group = DispatchGroup()
        for _ in 0..<arguments.threads {
            group.enter()
            let thread = Thread {
                do { try body(budget, numbering) } catch { StressOutput.shared.failure(error) }
                group.leave()
            }
            thread.start()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            group.notify(queue: .global()) { continuation.resume() }
        }
    }

    /// Runs `body` in `threads` tasks (the async API: group commit). An error ends the process.
    static func runTasks(_ arguments: StressArguments, _ body: @escaping @Sendable (StressBudget, StressNumbering) async throws -> Void) async {
        let budget = StressBudget(arguments.requests)
        let numbering = StressNumbering()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<arguments.threads {
                group.addTask {
                    do { try await body(budget, numbering) } catch { StressOutput.shared.failure(error) }
                }
            }
        }
    }
}
/// How many requests are left to send (`nil`: no end).
final class StressBudget: Sendable {
    private let left: Atomic<Int>
    private let bounded: Bool

    init(_ requests: Int?) {
        left = Atomic(requests ?? 0)
        bounded = requests != nil
    }

    func take() -> Bool {
        guard bounded else { return true }
        return left.subtract(1, ordering: .relaxed).newValue >= 0
    }
}

/// Numbers distinct within this process (for the `user` subject of `grow-subjects`).
final class StressNumbering: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}

/// Standard output, one `write(2)` per line, lines never interleaved.
final class StressOutput: Sendable {
    static let shared = StressOutput()
    private let lock = Mutex(())

    func line(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        lock.withLock { _ in _ = Self.writeAll(1, bytes) }
    }

    func decision(_ decision: Decision) {
        switch decision.outcome {
        case .allowed:
            let remaining = decision.limits.first { $0.name == "window" }?.remaining ?? .max
            line("A \(remaining)")
        case .rateLimited:
            line("D")
        default:
            line("X \(decision.outcome.rawValue)")
        }
    }

    /// Reports `error` on both outputs and ends the process at once (from any thread).
    func failure(_ error: any Error) -> Never {
        let text: String
        if let error = error as? TollgateError { text = "E \(error.code) \(error.message)" } else { text = "E error \(error)" }
        line(text)
        Self.standardError(text + "\n")
        _exit(3)
    }

    static func standardError(_ text: String) { _ = writeAll(2, Array(text.utf8)) }

    /// Writes every byte, retrying after interruptions and short writes.
    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }
}

struct StressSystemError: Error, CustomStringConvertible {
    var what: String
    var code: Int32

    init(_ what: String, code: Int32 = errno) {
        self.what = what
        self.code = code
    }

    var description: String { "cannot \(what): \(String(cString: strerror(code)))" }
}


/// What `tollgate-stress` was asked to do.
struct StressArguments: Sendable {
    enum Durability: String, Sendable, ExpressibleByArgument, CaseIterable { case durable, periodic }
    enum Mode: String, Sendable, ExpressibleByArgument, CaseIterable {
        case authorize
        case growSubjects = "grow-subjects"
        case growKeys = "grow-keys"
        case sweep
        case backup
    }

    var store: String
    var durability: Durability
    var syncIntervalMilliseconds: Int
    var mode: Mode
    var threads: Int
    var synchronous: Bool
    var limit: UInt64
    var windowSeconds: Int64
    var requests: Int?
    var mapSize: Int?
    var maxSeconds: UInt32
    var backupDirectory: String

    /// Long values, so that every record is large and the map fills fast in the `grow-*` modes.
    var padding: String { mode == .growSubjects || mode == .growKeys ? String(repeating: "p", count: 200) : "" }

    /// The request's subjects: a new `user` for every request in `grow-subjects` and `sweep`.
    func subjects(_ numbering: StressNumbering) -> [String: String] {
        mode == .growSubjects || mode == .sweep ? ["user": "\(getpid())-\(numbering.next())-\(padding)"] : [:]
    }
}
