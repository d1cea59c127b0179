import Dispatch
import Foundation
import Synchronization
import Tollgate
#if canImport(Glibc)
import Glibc
#endif

/// The crash suite's workload: opens a store, makes sure it holds the tier `crash` and one shared
/// key, then decides requests in a tight loop, printing one line per **acknowledged** outcome —
/// only after the store returned it. The crash tests kill it with SIGKILL at random moments and
/// compare what it printed with what the store holds afterwards.
///
/// ```
/// tollgate-workload --store PATH [--durability durable|periodic] [--sync-interval-ms N]
///                   [--mode authorize|grow-subjects|grow-keys] [--threads N] [--sync]
///                   [--limit L] [--window-seconds W] [--requests R] [--map-size BYTES]
///                   [--max-seconds S]
/// ```
///
/// Output, one line each, written with `write(2)` (no buffering):
/// - `R` — set up, the loop starts;
/// - `A <remaining>` — an allowed decision, with what its `window` limit has left after it;
/// - `D` — a request refused by a limit;
/// - `K <key id>` — a key created (mode `grow-keys`);
/// - `X <outcome>` — any other outcome (a bug in this setup);
/// - `E <code> <message>` — an error; the workload then exits with status 3.
///
/// The shared key's secret lives in `PATH.key` (mode 0600). Concurrent first runs agree on one:
/// each writes its secret to a file of its own, created with `O_EXCL`, and publishes it with
/// `link(2)`, which fails when `PATH.key` exists already. A run that loses the race revokes the
/// key it created and uses the winner's. A run killed before publishing leaves no key file, so
/// the next run starts over.
@main
struct Workload {
    static func main() async {
        let arguments: Arguments
        do { arguments = try Arguments(CommandLine.arguments.dropFirst()) } catch {
            Output.standardError("tollgate-workload: \(error)\n\(Arguments.usage)\n")
            exit(2)
        }
        let output = Output.shared
        // Should the parent die without killing it: SIGALRM ends it (default: after 5 minutes).
        alarm(arguments.maxSeconds)
        do {
            let store = try openStore(arguments)
            try ensureTier(store, arguments)
            let secret = try loadOrCreateKey(store, keyPath: arguments.store + ".key")
            output.line("R")
            switch arguments.mode {
            case .authorize, .growSubjects:
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
            store.close()
        } catch {
            output.failure(error)
        }
    }

    static let tierName = "crash"

    static func openStore(_ arguments: Arguments) throws -> Store {
        var options = Store.Options(path: arguments.store)
        switch arguments.durability {
        case .durable: options.durability = .durable
        case .periodic: options.durability = .periodic(interval: .milliseconds(arguments.syncIntervalMilliseconds))
        }
        if let mapSize = arguments.mapSize { options.mapSize = mapSize }
        return try Store(options: options)
    }

    /// The tier `crash`: `window` allows `limit` per `window-seconds` per key (a window far longer
    /// than a test run, so every trial counts in the same window); `grow-subjects` adds a per-`user`
    /// limit, so every request writes a counter of its own and the map has to grow.
    static func ensureTier(_ store: Store, _ arguments: Arguments) throws {
        let window = arguments.windowSeconds * 1_000_000
        var limits = [Limit(name: "window", strategy: .fixedWindow, quantity: arguments.limit, windowMicroseconds: window)]
        if arguments.mode == .growSubjects {
            limits.append(Limit(name: "user", strategy: .fixedWindow, quantity: 1_000_000, windowMicroseconds: window, subject: .custom("user")))
        }
        let tier = Tier(name: tierName, limits: limits)
        if try store.tier(named: tierName) != tier { try store.setTier(tier, actor: "crash-workload") }
    }

    /// The shared key's secret, from `keyPath`, created (see the type's documentation) if missing.
    static func loadOrCreateKey(_ store: Store, keyPath: String) throws -> String {
        if let secret = try readSecret(keyPath, store) { return secret }
        let issued = try store.createKey(NewKey(owner: "crash", tier: tierName, name: "shared"), actor: "crash-workload")
        let temporary = "\(keyPath).\(getpid()).tmp"
        unlink(temporary) // left by a killed process that had this pid
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SystemError("create \(temporary)") }
        let written = fchmod(descriptor, 0o600) == 0 && Output.writeAll(descriptor, Array((issued.secret + "\n").utf8)) && fsync(descriptor) == 0
        let writeError = SystemError("write \(temporary)")
        close(descriptor)
        guard written else {
            unlink(temporary)
            throw writeError
        }
        let published = link(temporary, keyPath) == 0
        let linkError = SystemError("publish \(keyPath)")
        unlink(temporary)
        if published { return issued.secret }
        guard linkError.code == EEXIST else { throw linkError }
        // Another run published first: use its key, and retire ours.
        try store.revokeKey(id: issued.info.id, actor: "crash-workload")
        guard let secret = try readSecret(keyPath, store) else { throw SystemError("read \(keyPath)") }
        return secret
    }

    private static func readSecret(_ path: String, _ store: Store) throws -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard store.keyFormat.parse(secret) == nil else {
            throw SystemError("\(path) holds no valid key", code: EINVAL)
        }
        return secret
    }

    /// Runs `body` on `threads` OS threads (the synchronous API blocks its caller). An error
    /// ends the process.
    static func runThreads(_ arguments: Arguments, _ body: @escaping @Sendable (Budget, Numbering) throws -> Void) async {
        let budget = Budget(arguments.requests)
        let numbering = Numbering()
        let group = DispatchGroup()
        for _ in 0..<arguments.threads {
            group.enter()
            let thread = Thread {
                do { try body(budget, numbering) } catch { Output.shared.failure(error) }
                group.leave()
            }
            thread.start()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            group.notify(queue: .global()) { continuation.resume() }
        }
    }

    /// Runs `body` in `threads` tasks (the async API: group commit). An error ends the process.
    static func runTasks(_ arguments: Arguments, _ body: @escaping @Sendable (Budget, Numbering) async throws -> Void) async {
        let budget = Budget(arguments.requests)
        let numbering = Numbering()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<arguments.threads {
                group.addTask {
                    do { try await body(budget, numbering) } catch { Output.shared.failure(error) }
                }
            }
        }
    }
}

/// How many requests are left to send (`nil`: no end).
final class Budget: Sendable {
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
final class Numbering: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}

/// Standard output, one `write(2)` per line, lines never interleaved.
final class Output: Sendable {
    static let shared = Output()
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

struct SystemError: Error, CustomStringConvertible {
    var what: String
    var code: Int32

    init(_ what: String, code: Int32 = errno) {
        self.what = what
        self.code = code
    }

    var description: String { "cannot \(what): \(String(cString: strerror(code)))" }
}

struct Arguments: Sendable {
    enum Durability: String, Sendable { case durable, periodic }
    enum Mode: String, Sendable {
        case authorize
        case growSubjects = "grow-subjects"
        case growKeys = "grow-keys"
    }

    var store = ""
    var durability = Durability.durable
    var syncIntervalMilliseconds = 3_600_000
    var mode = Mode.authorize
    var threads = 16
    var synchronous = false
    var limit: UInt64 = 1_000_000
    /// 100 years: the fixed window [1970, 2070) holds every test run.
    var windowSeconds: Int64 = 3_153_600_000
    var requests: Int?
    var mapSize: Int?
    var maxSeconds: UInt32 = 300

    static let usage = """
        usage: tollgate-workload --store PATH [--durability durable|periodic] [--sync-interval-ms N]
                                 [--mode authorize|grow-subjects|grow-keys] [--threads N] [--sync]
                                 [--limit L] [--window-seconds W] [--requests R] [--map-size BYTES]
                                 [--max-seconds S]
        """

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    init(_ arguments: ArraySlice<String>) throws {
        var rest = arguments
        func value(_ option: String) throws -> String {
            guard let value = rest.popFirst() else { throw Invalid(description: "\(option) needs a value") }
            return value
        }
        func number<N: FixedWidthInteger>(_ option: String, _: N.Type = N.self, minimum: N = 1) throws -> N {
            let text = try value(option)
            guard let number = N(text), number >= minimum else { throw Invalid(description: "\(option): \(text) is not a number ≥ \(minimum)") }
            return number
        }
        while let option = rest.popFirst() {
            switch option {
            case "--store": store = try value(option)
            case "--durability":
                let text = try value(option)
                guard let durability = Durability(rawValue: text) else { throw Invalid(description: "unknown durability \(text)") }
                self.durability = durability
            case "--sync-interval-ms": syncIntervalMilliseconds = try number(option)
            case "--mode":
                let text = try value(option)
                guard let mode = Mode(rawValue: text) else { throw Invalid(description: "unknown mode \(text)") }
                self.mode = mode
            case "--threads": threads = try number(option)
            case "--sync": synchronous = true
            case "--limit": limit = try number(option)
            case "--window-seconds": windowSeconds = try number(option)
            case "--requests": requests = try number(option, minimum: 0)
            case "--map-size": mapSize = try number(option)
            case "--max-seconds": maxSeconds = try number(option)
            default: throw Invalid(description: "unknown option \(option)")
            }
        }
        guard !store.isEmpty else { throw Invalid(description: "--store is required") }
    }

    /// Long values, so that every record is large and the map fills fast in the `grow-*` modes.
    var padding: String { mode == .authorize ? "" : String(repeating: "p", count: 200) }

    /// The request's subjects: a new `user` for every request in `grow-subjects`.
    func subjects(_ numbering: Numbering) -> [String: String] {
        mode == .growSubjects ? ["user": "\(getpid())-\(numbering.next())-\(padding)"] : [:]
    }
}
