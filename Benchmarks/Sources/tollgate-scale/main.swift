// Scale (row 5 of Docs/benchmarks.md): authorize latency, store bytes per key and per counter,
// and open time, for a small store (10k keys) against a large one (1M keys and 10M counters),
// in one run. Release mode:
//   Benchmarks/.build/release/tollgate-scale --dir DIR [--quick] [--json FILE]
//   --quick: 10k keys against 100k keys and 1M counters.
//
// How the stores are filled (honestly, and documented in Docs/benchmarks.md):
// - keys: through the public API, `Store.createKey` (one write transaction each, with its audit
//   event and indexes, as in production), in periodic mode;
// - counters: every key's own two counters (per second, per day), plus counters of a per-client
//   limit (`client=<random>` subject) up to the total, written through TollgateLMDB in write
//   transactions of 50,000 puts with Tollgate's real record encodings (counter key: kind ·
//   subject · 0 · limit name; value: StoredCounter version 1). Inserted in random key order, as a
//   live store receives them, not appended in sorted order. The store then checks them: a
//   decision must count the preloaded day counter, and `statistics()` must see every counter;
// - then every key decides once (so each has its usage record and a recent "last used"),
//   untimed, and the timed decisions pick keys at random from all of them.
import BenchKit
import Foundation

import Tollgate
import TollgateLMDB

let quick = CommandLine.arguments.contains("--quick")
guard let base = argument("--dir") else { throw BenchFailure("usage: tollgate-scale --dir DIR [--quick] [--json FILE]") }
let jsonPath = argument("--json")
let samples = quick ? 20_000 : 50_000

/// SplitMix64: reproducible random numbers without Foundation's generator's overhead.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let scaleTier = Tier(name: "scale", limits: benchTier.limits)
let dayMicros: Int64 = 86_400_000_000
let preloadedDayCount: UInt64 = 3

/// Tollgate's counter record (StoredCounter, version 1, fixed or calendar window).
func counterRecord(staleAt: Int64, windowStart: Int64, count: UInt64) -> [UInt8] {
    var bytes: [UInt8] = [1]
    bytes.appendBigEndian(staleAt)
    bytes.append(1)  // window state
    bytes.appendBigEndian(windowStart)
    bytes.appendBigEndian(count)
    return bytes
}

/// Tollgate's counter table key: kind · subject · 0 · limit name.
func counterKey(kind: UInt8, subject: some Sequence<UInt8>, limit: String) -> [UInt8] {
    var bytes: [UInt8] = [kind]
    bytes.append(contentsOf: subject)
    bytes.append(0)
    bytes.append(contentsOf: limit.utf8)
    return bytes
}

struct ScaleResult: Encodable {
    var label: String
    var keys: Int
    var counters: Int
    var loadKeysSeconds: Double
    var loadCountersSeconds: Double
    var compactSeconds: Double
    var warmSeconds: Double
    var fileBytes: Int
    var usedBytes: Int
    var tables: [String: Int]  // bytes (pages × page size) per table
    var records: [String: Int]
    var bytesPerKey: Double  // keys + keyIDs + owners tables
    var bytesPerKeyWithAuditAndUsage: Double
    var bytesPerCounter: Double
    var openMilliseconds: Double  // median of 5 opens
    var firstDecisionMicroseconds: Double  // the first decision after a reopen
    var random: Row  // authorize a random key of all
    var hot: Row  // authorize one key again and again
}

func runScale(label: String, keyCount: Int, counterCount: Int) throws -> ScaleResult {
    let path = base + "/" + label
    try? FileManager.default.removeItem(atPath: path)
    var options = Store.Options(path: path)
    options.durability = .periodic(interval: .milliseconds(100))
    options.sweepInterval = nil  // the sweeper would delete the preloaded counters as they go stale
    options.mapSize = 1 << 30

    // Keys, through the public API.
    var start = nowNanoseconds()
    var store = try Store(options: options)
    try store.setTier(scaleTier)
    var secrets: [String] = []
    var ids: [String] = []
    secrets.reserveCapacity(keyCount)
    ids.reserveCapacity(keyCount)
    for index in 0..<keyCount {
        let issued = try store.createKey(NewKey(owner: "owner\(index % 10_000)", tier: scaleTier.name, scopes: ["items:read"]))
        secrets.append(issued.secret)
        ids.append(issued.info.id)
        if index > 0 && index % 200_000 == 0 { print("  \(label): \(index) keys") }
    }
    store.close()
    let loadKeysSeconds = Double(nowNanoseconds() - start) / 1e9
    progress("  \(label): \(keyCount) keys in \(format(loadKeysSeconds, 1)) s")

    // Counters, with Tollgate's encodings, in large write transactions.
    start = nowNanoseconds()
    let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
    let dayStart = now - ((now % dayMicros) + dayMicros) % dayMicros
    let minuteStart = now - now % 60_000_000
    var written = 0
    do {
        var envOptions = Environment.Options(path: path)
        envOptions.durability = .noSync
        envOptions.mapSize = options.mapSize
        envOptions.create = false
        let environment = try Environment(options: envOptions)
        defer { environment.close() }
        guard let counters = try environment.table(named: "counters", create: false) else { throw BenchFailure("no counters table") }
        let batch = 50_000
        // Each key's own counters (the key ids are random: random insertion order).
        let dayRecord = counterRecord(staleAt: dayStart + dayMicros, windowStart: dayStart, count: preloadedDayCount)
        let secondRecord = counterRecord(staleAt: now + 1_000_000, windowStart: now - now % 1_000_000, count: 1)
        var next = 0
        while next < ids.count {
            let end = min(ids.count, next + batch / 2)
            try environment.write { txn in
                for id in ids[next..<end] {
                    try txn.put(secondRecord, forKey: counterKey(kind: 1, subject: id.utf8, limit: "second"), in: counters)
                    try txn.put(dayRecord, forKey: counterKey(kind: 1, subject: id.utf8, limit: "day"), in: counters)
                }
            }
            written += 2 * (end - next)
            next = end
        }
        // Per-client counters up to the total, under random subject values.
        var random = SplitMix(state: 42)
        let minuteRecord = counterRecord(staleAt: minuteStart + 60_000_000, windowStart: minuteStart, count: 1)
        let hex = Array("0123456789abcdef".utf8)
        while written < counterCount {
            let count = min(batch, counterCount - written)
            try environment.write { txn in
                for _ in 0..<count {
                    var subject = Array("client=".utf8)
                    var value = random.next()
                    for _ in 0..<16 {
                        subject.append(hex[Int(value & 0xF)])
                        value >>= 4
                    }
                    try txn.put(minuteRecord, forKey: counterKey(kind: 3, subject: subject, limit: "minute"), in: counters)
                }
            }
            written += count
            if written % 2_000_000 < batch { print("  \(label): \(written) counters") }
        }
    }
    let loadCountersSeconds = Double(nowNanoseconds() - start) / 1e9
    progress("  \(label): \(written) counters in \(format(loadCountersSeconds, 1)) s")

    // The load's large write transactions leave a long LMDB free list behind (pages their
    // copy-on-write freed), which a store grown one decision at a time never has, and which makes
    // every later commit slower. Compact it away, as `tollgate backup --compact` does: page for
    // page, so the pages stay as full as the random-order load left them.
    start = nowNanoseconds()
    do {
        let loaded = try Store(options: options)
        try loaded.backup(to: path + "-compact", compact: true)
        loaded.close()
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: path + "-compact", toPath: path)
    }
    let compactSeconds = Double(nowNanoseconds() - start) / 1e9
    progress("  \(label): compacted in \(format(compactSeconds, 1)) s")

    // Open time: median of 5 opens of the full store.
    var opens: [Double] = []
    for _ in 0..<5 {
        let before = nowNanoseconds()
        let opened = try Store(options: options)
        opens.append(Double(nowNanoseconds() - before) / 1e6)
        opened.close()
    }
    opens.sort()
    store = try Store(options: options)
    defer { store.close() }

    // The store reads what was written: the preloaded day count is counted.
    var before = nowNanoseconds()
    let check: Decision = try store.authorize(key: secrets[0], scope: "items:read")
    let firstDecision = Double(nowNanoseconds() - before) / 1e3
    guard check.isAllowed, let day = check.limits.first(where: { $0.name == "day" }) else {
        throw BenchFailure("\(label): first decision \(check.outcome)")
    }
    let dayQuantity = scaleTier.limits[1].quantity
    guard day.remaining == dayQuantity - preloadedDayCount - 1 || day.remaining == dayQuantity - 1 else {
        throw BenchFailure("\(label): the preloaded day counter was not read back (remaining \(day.remaining))")
    }

    // Every key decides once, untimed.
    before = nowNanoseconds()
    for secret in secrets.dropFirst() {
        let decision: Decision = try store.authorize(key: secret, scope: "items:read")
        if !decision.isAllowed { throw BenchFailure("\(label): warm-up decision \(decision.outcome)") }
    }
    let warmSeconds = Double(nowNanoseconds() - before) / 1e9
    progress("  \(label): every key decided once in \(format(warmSeconds, 1)) s")

    let statistics = try store.statistics()
    var tables: [String: Int] = [:]
    var records: [String: Int] = [:]
    for table in statistics.tables {
        tables[table.name] = table.pages * statistics.pageSize
        records[table.name] = table.records
    }
    guard records["counters"]! >= written, records["keys"]! == keyCount else {
        throw BenchFailure("\(label): statistics see \(records["counters"]!) counters and \(records["keys"]!) keys")
    }

    // Timed: random keys, then one hot key.
    var random = SplitMix(state: 7)
    let order = (0..<(samples + 1_000)).map { _ in Int(random.next() % UInt64(keyCount)) }
    var position = 0
    let randomRow = try measure("scale_\(label)_random", "authorize, \(label), random key", count: samples, warmup: 1_000) {
        let decision: Decision = try store.authorize(key: secrets[order[position]], scope: "items:read")
        position += 1
        if !decision.isAllowed { throw BenchFailure("\(label): \(decision.outcome)") }
    }
    let hotKey = secrets[keyCount / 2]
    let hotRow = try measure("scale_\(label)_hot", "authorize, \(label), one key", count: samples, warmup: 1_000) {
        let decision: Decision = try store.authorize(key: hotKey, scope: "items:read")
        if !decision.isAllowed { throw BenchFailure("\(label): \(decision.outcome)") }
    }
    let keyBytes = Double(tables["keys"]! + tables["keyIDs"]! + tables["owners"]!)
    return ScaleResult(
        label: label, keys: keyCount, counters: records["counters"]!, loadKeysSeconds: loadKeysSeconds,
        loadCountersSeconds: loadCountersSeconds, compactSeconds: compactSeconds, warmSeconds: warmSeconds, fileBytes: statistics.fileBytes,
        usedBytes: statistics.usedBytes, tables: tables, records: records,
        bytesPerKey: keyBytes / Double(keyCount),
        bytesPerKeyWithAuditAndUsage: (keyBytes + Double(tables["audit"]! + tables["usage"]!)) / Double(keyCount),
        bytesPerCounter: Double(tables["counters"]!) / Double(records["counters"]!),
        openMilliseconds: opens[2], firstDecisionMicroseconds: firstDecision, random: randomRow.row, hot: hotRow.row)
}

let configurations: [(String, Int, Int)] = quick
    ? [("10k", 10_000, 20_000), ("100k", 100_000, 1_000_000)]
    : [("10k", 10_000, 20_000), ("1M", 1_000_000, 10_000_000)]
var results: [ScaleResult] = []
let started = nowNanoseconds()
for (label, keys, counters) in configurations {
    progress("scale: \(label) keys, \(counters) counters")
    results.append(try runScale(label: label, keyCount: keys, counterCount: counters))
    try? FileManager.default.removeItem(atPath: base + "/" + label)
}
print("| store | keys | counters | median µs (random key) | p99 µs | median µs (one key) | bytes/key | bytes/counter | open ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in results {
    print("| \(r.label) | \(r.keys) | \(r.counters) | \(format(r.random.medianMicroseconds)) | \(format(r.random.p99Microseconds)) | \(format(r.hot.medianMicroseconds)) | \(format(r.bytesPerKey, 0)) | \(format(r.bytesPerCounter, 1)) | \(format(r.openMilliseconds, 2)) |")
}
print("large / small median (random key): \(format(results[1].random.medianMicroseconds / results[0].random.medianMicroseconds))×")
print("scale run: \(format(Double(nowNanoseconds() - started) / 1e9, 0)) s")
if let jsonPath { try writeJSON(results, to: jsonPath) }
