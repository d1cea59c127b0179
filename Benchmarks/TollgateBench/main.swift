// Engine benchmarks, in process. Run in release mode:
//   swift run -c release tollgate-bench [--quick]
// Prints medians, p99 and throughput, and the ratios the issues ask for, all measured in one run.
import Foundation
import Tollgate
import TollgateLMDB

let quick = CommandLine.arguments.contains("--quick")
let root = NSTemporaryDirectory() + "/tollgate-bench-\(getpid())"
try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: root) }

func nowNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

struct Measurement {
    var name: String
    var samples: [UInt64]  // nanoseconds per operation
    var operations: Int
    var seconds: Double

    var median: Double { percentile(0.5) }
    var p99: Double { percentile(0.99) }
    var throughput: Double { Double(operations) / seconds }

    func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1_000
    }
}

/// Times `body` `count` times, one sample per call.
func measure(_ name: String, count: Int, warmup: Int = 200, _ body: () throws -> Void) rethrows -> Measurement {
    for _ in 0..<warmup { try body() }
    var samples: [UInt64] = []
    samples.reserveCapacity(count)
    let start = nowNanoseconds()
    for _ in 0..<count {
        let before = nowNanoseconds()
        try body()
        samples.append(nowNanoseconds() - before)
    }
    return Measurement(name: name, samples: samples, operations: count, seconds: Double(nowNanoseconds() - start) / 1e9)
}

func openStore(_ name: String, durability: Store.Durability) throws -> (Store, String) {
    var options = Store.Options(path: root + "/" + name)
    options.durability = durability
    let store = try Store(options: options)
    try store.setTier(Tier(name: "bench", limits: [
        Limit(name: "second", strategy: .fixedWindow, quantity: 1_000_000_000, windowMicroseconds: 1_000_000),
        Limit(name: "day", strategy: .calendarDay, quantity: 1_000_000_000_000, windowMicroseconds: 86_400_000_000),
    ]))
    try store.setTier(Tier(name: "tiny", limits: [.perHour(1)]))
    let key = try store.createKey(NewKey(owner: "bench", tier: "bench"))
    return (store, key.secret)
}

var results: [Measurement] = []
let n = quick ? 5_000 : 50_000

// 1. Periodic mode, one caller: the latency floor of a decision.
let (periodic, periodicKey) = try openStore("periodic", durability: .periodic(interval: .milliseconds(100)))
results.append(try measure("authorize, periodic, 1 caller", count: n) {
    _ = try periodic.authorize(key: periodicKey) as Decision
})
results.append(try measure("peek", count: n) { _ = try periodic.peek(key: periodicKey) })
let malformed = String(periodicKey.dropLast()) + (periodicKey.hasSuffix("a") ? "b" : "a")
results.append(try measure("reject malformed key", count: n) { _ = try periodic.authorize(key: malformed) as Decision })
let limited = try periodic.createKey(NewKey(owner: "bench", tier: "tiny")).secret
_ = try periodic.authorize(key: limited) as Decision
results.append(try measure("reject key over its limit", count: n) { _ = try periodic.authorize(key: limited) as Decision })
periodic.close()

// 2. The LMDB floor: the same work (one key lookup + two counter read-modify-writes in one
// transaction) directly on TollgateLMDB, same flags (no sync).
do {
    var options = Environment.Options(path: root + "/floor")
    options.durability = .noSync
    let environment = try Environment(options: options)
    let keys = try environment.table(named: "keys")!
    let counters = try environment.table(named: "counters")!
    let keyHash = [UInt8](repeating: 7, count: 32)
    try environment.write { txn in try txn.put([UInt8](repeating: 1, count: 120), forKey: keyHash, in: keys) }
    let counterKeys = [Array("\u{1}key_0123456789abcdef\u{0}second".utf8), Array("\u{1}key_0123456789abcdef\u{0}day".utf8)]
    results.append(try measure("LMDB floor (lookup + 2 RMW), no sync", count: n) {
        try environment.write { txn in
            _ = try txn.withValue(in: keys, forKey: keyHash) { $0.count }
            for counterKey in counterKeys {
                let count = try txn.withValue(in: counters, forKey: counterKey) { UInt64(bigEndianBytes: $0) ?? 0 } ?? 0
                try txn.put((count + 1).bigEndianBytes, forKey: counterKey, in: counters)
            }
        }
    })
    environment.close()
}

// 3. Durable: one commit (and fsync) per request, then 64 concurrent callers with group commit.
let (durable, durableKey) = try openStore("durable", durability: .durable)
let single = try measure("authorize, durable, 1 commit per request", count: quick ? 200 : 1_000, warmup: 20) {
    _ = try durable.authorize(key: durableKey) as Decision
}
results.append(single)

let callers = 64
let perCaller = quick ? 50 : 200
let groupStart = nowNanoseconds()
let samples = try await withThrowingTaskGroup(of: [UInt64].self) { group in
    for _ in 0..<callers {
        group.addTask {
            var samples: [UInt64] = []
            for _ in 0..<perCaller {
                let before = nowNanoseconds()
                _ = try await durable.authorize(key: durableKey)
                samples.append(nowNanoseconds() - before)
            }
            return samples
        }
    }
    var all: [UInt64] = []
    for try await part in group { all += part }
    return all
}
let group = Measurement(name: "authorize, durable, 64 callers, group commit", samples: samples, operations: callers * perCaller,
                        seconds: Double(nowNanoseconds() - groupStart) / 1e9)
results.append(group)
durable.close()

print("| benchmark | median µs | p99 µs | ops/s |")
print("|---|---:|---:|---:|")
for result in results {
    print("| \(result.name) | \(String(format: "%.2f", result.median)) | \(String(format: "%.2f", result.p99)) | \(String(format: "%.0f", result.throughput)) |")
}
let floor = results.first { $0.name.hasPrefix("LMDB floor") }!
let authorize = results[0]
print("")
print("overhead over the LMDB floor (median): \(String(format: "%.2f", authorize.median / floor.median))×")
print("group commit throughput / one commit per request: \(String(format: "%.1f", group.throughput / single.throughput))×")
