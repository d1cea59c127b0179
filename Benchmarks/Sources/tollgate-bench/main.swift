// Engine benchmarks, in process (rows 1 and 2 of Docs/benchmarks.md). Release mode:
//   swift run -c release --package-path Benchmarks tollgate-bench [--quick] [--json FILE]
//   … tollgate-bench --strategies [--quick] [--json FILE]   only the sliding log against the sliding window
// Prints medians, p99 and throughput, and the ratios, all measured in one run.
import BenchKit
import Foundation
import Tollgate

let quick = CommandLine.arguments.contains("--quick")
let jsonPath = argument("--json")

// `--strategies`: only the sliding log against the sliding window (Docs/limits.md, "Sliding log"):
// a full log's decision time and counter record size, interleaved so load falls on all alike.
if CommandLine.arguments.contains("--strategies") {
    let strategies = try StrategyWorkloads(root: NSTemporaryDirectory() + "/tollgate-bench-strategies-\(getpid())")
    let perRound = quick ? 100 : 1_000
    let timings = try measureInterleaved(strategies.cases.map { workload in
        (id: workload.id, name: workload.name, body: { try strategies.decide(workload) })
    }, rounds: 20, perRound: perRound)
    print("| benchmark | median µs | p99 µs | ops/s |")
    print("|---|---:|---:|---:|")
    for timing in timings {
        print("| \(timing.name) | \(format(timing.median)) | \(format(timing.p99)) | \(format(timing.throughput, 0)) |")
    }
    print("")
    print("| counter | record bytes |")
    print("|---|---:|")
    let recordBytes = try strategies.counterRecordBytes()
    for (id, bytes) in recordBytes { print("| \(id) | \(bytes) |") }
    struct StrategyOutput: Encodable {
        var rows: [Row]
        var counterRecordBytes: [String: Int]
        var samplesPerRow: Int
    }
    if let jsonPath {
        try writeJSON(StrategyOutput(rows: timings.map(\.row), counterRecordBytes: Dictionary(uniqueKeysWithValues: recordBytes.map { ($0.id, $0.bytes) }),
                                     samplesPerRow: 20 * perRound), to: jsonPath)
    }
    strategies.close()
    exit(0)
}
let root = NSTemporaryDirectory() + "/tollgate-bench-\(getpid())"
let workloads = try EngineWorkloads(root: root)
defer { workloads.close() }

// `--profile WORKLOAD COUNT`: only run one workload COUNT times, for valgrind --tool=callgrind
// (WORKLOAD: authorize, floor, floor-sha256, peek, durable).
if let workload = argument("--profile") {
    let count = Int(CommandLine.arguments.last!) ?? 10_000
    let body: () throws -> Void
    switch workload {
    case "authorize": body = { try workloads.authorizePeriodic() }
    case "floor": body = { try workloads.floor.decide() }
    case "floor-sha256": body = { [presented = workloads.periodicKey] in try workloads.floor.decideHashing(presented) }
    case "peek": body = { try workloads.peek() }
    case "durable": body = { try workloads.authorizeDurable() }
    default: throw BenchFailure("unknown workload \(workload)")
    }
    for _ in 0..<count { try body() }
    exit(0)
}

var results: [Timing] = []
let n = quick ? 5_000 : 50_000

// 1 and 2. Periodic mode, one caller: the latency of a decision, against the floor (same flags,
// same record sizes; then with the key's SHA-256), in alternating blocks so that the machine's
// changing load falls on all three alike. The synchronous API runs its own write transaction on
// the calling thread.
let presented = workloads.periodicKey
let floor = workloads.floor
results += try measureInterleaved([
    ("authorize_periodic", "authorize, periodic, 1 caller", { try workloads.authorizePeriodic() }),
    ("floor", "LMDB floor: key lookup + 2 counter RMW, no sync", { try floor.decide() }),
    ("floor_sha256", "LMDB floor + SHA-256 of the key", { try floor.decideHashing(presented) }),
    ("authorize_periodic_hourly", "authorize, periodic, 1 caller, background sync hourly", { try workloads.authorizeRarelySynced() }),
], rounds: 50, perRound: n / 50)
// The async API hands the decision to the group-commit writer thread.
results.append(try await measureAsync("authorize_periodic_async", "authorize, periodic, 1 caller, async API", count: n / 2) {
    try await workloads.authorizePeriodicAsync()
})
results.append(try measure("peek", "peek", count: n) { try workloads.peek() })
results.append(try measure("reject_malformed", "reject malformed key", count: n) { try workloads.rejectMalformed() })
results.append(try measure("reject_over_limit", "reject key over its limit", count: n) { try workloads.rejectOverLimit() })


// 3. Durable: one commit (and fsync) per request, then 64 concurrent callers with group commit.
results.append(try measure("durable_single", "authorize, durable, 1 commit per request", count: quick ? 200 : 1_000, warmup: 20) {
    try workloads.authorizeDurable()
})
let callers = 64
let perCaller = quick ? 50 : 200
_ = try await workloads.groupCommit(callers: callers, perCaller: 10)  // warm-up
let group = try await workloads.groupCommit(callers: callers, perCaller: perCaller)
results.append(Timing(id: "durable_group64", name: "authorize, durable, 64 callers, group commit", samples: group.samples,
                           operations: callers * perCaller, seconds: group.seconds))

print("| benchmark | median µs | p99 µs | ops/s |")
print("|---|---:|---:|---:|")
for result in results {
    print("| \(result.name) | \(format(result.median)) | \(format(result.p99)) | \(format(result.throughput, 0)) |")
}
let byID = Dictionary(uniqueKeysWithValues: results.map { ($0.id, $0) })
func row(_ id: String) -> Timing { byID[id]! }
print("")
print("overhead over the LMDB floor (median): \(format(row("authorize_periodic").median / row("floor").median))×")
print("overhead over the LMDB floor, background sync hourly (median): \(format(row("authorize_periodic_hourly").median / row("floor").median))×")
print("overhead over the LMDB floor + SHA-256 (median): \(format(row("authorize_periodic").median / row("floor_sha256").median))×")
print("group commit throughput / one commit per request: \(format(row("durable_group64").throughput / row("durable_single").throughput, 1))×")

struct Output: Encodable {
    var rows: [Row]
    var keyRecordBytes: Int
    var lmdbVersion: String
    var samplesPerRow: Int
    var groupCallers: Int
    var groupPerCaller: Int
}
if let jsonPath {
    try writeJSON(Output(rows: results.map(\.row), keyRecordBytes: workloads.floor.keyRecordBytes, lmdbVersion: lmdbVersion(),
                         samplesPerRow: n, groupCallers: callers, groupPerCaller: perCaller), to: jsonPath)
}
