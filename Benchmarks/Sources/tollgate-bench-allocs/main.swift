// Heap allocations per decision, for the engine workloads of tollgate-bench. Counts every
// malloc/calloc/realloc/posix_memalign of the process (all threads: the caller, the group-commit
// writer, the background sync) with ordo-one's malloc interposer, which must be preloaded:
//   LD_PRELOAD=Benchmarks/.build/release/libMallocInterposerSwift.so \
//       Benchmarks/.build/release/tollgate-bench-allocs [--quick] [--json FILE]
// Timing is measured separately, without the interposer (tollgate-bench).
import BenchKit
import Foundation
import MallocInterposerSwift

let quick = CommandLine.arguments.contains("--quick")
let jsonPath = argument("--json")
let root = NSTemporaryDirectory() + "/tollgate-bench-allocs-\(getpid())"
let workloads = try EngineWorkloads(root: root)
defer { workloads.close() }

struct Allocations: Encodable {
    var id: String
    var name: String
    var operations: Int
    var mallocsPerOperation: Double
    var bytesPerOperation: Double
}

// Is the interposer really in place? Without LD_PRELOAD nothing is counted.
MallocInterposerSwift.initialize()
MallocInterposerSwift.hook()
let probe = [Int](repeating: 1, count: 1_000)
MallocInterposerSwift.unhook()
guard MallocInterposerSwift.getStatistics().mallocCount > 0, probe.count == 1_000 else {
    throw BenchFailure("the malloc interposer counts nothing: run with LD_PRELOAD=.../libMallocInterposerSwift.so")
}

func count(_ id: String, _ name: String, operations: Int, _ body: () async throws -> Void) async throws -> Allocations {
    for _ in 0..<200 { try await body() }  // warm-up: caches, first-use allocations
    MallocInterposerSwift.initialize()
    MallocInterposerSwift.hook()
    for _ in 0..<operations { try await body() }
    MallocInterposerSwift.unhook()
    let stats = MallocInterposerSwift.getStatistics()
    return Allocations(id: id, name: name, operations: operations,
                       mallocsPerOperation: Double(stats.mallocCount) / Double(operations),
                       bytesPerOperation: Double(stats.mallocBytesCount) / Double(operations))
}

let n = quick ? 2_000 : 20_000
var results: [Allocations] = []
results.append(try await count("authorize_periodic", "authorize, periodic, 1 caller", operations: n) { try workloads.authorizePeriodic() })
results.append(try await count("authorize_periodic_async", "authorize, periodic, 1 caller, async API", operations: n) {
    try await workloads.authorizePeriodicAsync()
})
results.append(try await count("authorize_periodic_hourly", "authorize, periodic, background sync hourly", operations: n) {
    try workloads.authorizeRarelySynced()
})
results.append(try await count("peek", "peek", operations: n) { try workloads.peek() })
results.append(try await count("reject_malformed", "reject malformed key", operations: n) { try workloads.rejectMalformed() })
results.append(try await count("reject_over_limit", "reject key over its limit", operations: n) { try workloads.rejectOverLimit() })
results.append(try await count("floor", "LMDB floor", operations: n) { try workloads.floor.decide() })
results.append(try await count("floor_empty_write", "LMDB empty write transaction", operations: n) { try workloads.floor.emptyWrite() })
results.append(try await count("floor_lookup", "LMDB write transaction with the key lookup only", operations: n) { try workloads.floor.lookupOnly() })
let presented = workloads.periodicKey
results.append(try await count("floor_sha256", "LMDB floor + SHA-256", operations: n) { try workloads.floor.decideHashing(presented) })
results.append(try await count("durable_single", "authorize, durable, 1 commit per request", operations: quick ? 100 : 500) {
    try workloads.authorizeDurable()
})
// Group commit: 64 concurrent callers; the count includes the 64 tasks and the task group.
let callers = 64
let perCaller = quick ? 20 : 100
_ = try await workloads.groupCommit(callers: callers, perCaller: 5)
MallocInterposerSwift.initialize()
MallocInterposerSwift.hook()
_ = try await workloads.groupCommit(callers: callers, perCaller: perCaller)
MallocInterposerSwift.unhook()
let stats = MallocInterposerSwift.getStatistics()
let decisions = callers * perCaller
results.append(Allocations(id: "durable_group64", name: "authorize, durable, 64 callers, group commit", operations: decisions,
                           mallocsPerOperation: Double(stats.mallocCount) / Double(decisions),
                           bytesPerOperation: Double(stats.mallocBytesCount) / Double(decisions)))

print("| benchmark | allocations per op | bytes per op |")
print("|---|---:|---:|")
for result in results {
    print("| \(result.name) | \(format(result.mallocsPerOperation, 1)) | \(format(result.bytesPerOperation, 0)) |")
}
if let jsonPath { try writeJSON(results, to: jsonPath) }
