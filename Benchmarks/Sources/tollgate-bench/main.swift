// Engine benchmarks, in process (rows 1 and 2 of Docs/benchmarks.md). Release mode:
//   swift run -c release --package-path Benchmarks tollgate-bench [--quick] [--json FILE]
// Prints medians, p99 and throughput, and the ratios, all measured in one run.
import BenchKit
import Foundation
import Tollgate

let quick = CommandLine.arguments.contains("--quick")
let jsonPath = argument("--json")
let root = NSTemporaryDirectory() + "/tollgate-bench-\(getpid())"
let workloads = try EngineWorkloads(root: root)
defer { workloads.close() }

var results: [Timing] = []
let n = quick ? 5_000 : 50_000

// 1. Periodic mode, one caller: the latency of a decision. The synchronous API runs its own
// write transaction on the calling thread; the async one hands it to the group-commit writer.
results.append(try measure("authorize_periodic", "authorize, periodic, 1 caller", count: n) { try workloads.authorizePeriodic() })
results.append(try await measureAsync("authorize_periodic_async", "authorize, periodic, 1 caller, async API", count: n / 2) {
    try await workloads.authorizePeriodicAsync()
})
results.append(try measure("peek", "peek", count: n) { try workloads.peek() })
results.append(try measure("reject_malformed", "reject malformed key", count: n) { try workloads.rejectMalformed() })
results.append(try measure("reject_over_limit", "reject key over its limit", count: n) { try workloads.rejectOverLimit() })

// 2. The floor, same flags (no sync), same record sizes; then with the key's SHA-256.
results.append(try measure("floor", "LMDB floor: key lookup + 2 counter RMW, no sync", count: n) { try workloads.floor.decide() })
let presented = workloads.periodicKey
results.append(try measure("floor_sha256", "LMDB floor + SHA-256 of the key", count: n) { try workloads.floor.decideHashing(presented) })

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
