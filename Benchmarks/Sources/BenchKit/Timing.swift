import Foundation
import TollgateLMDB

/// Monotonic nanoseconds.
public func nowNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// One benchmark row: per-operation latency samples and the wall time of the whole run.
public struct Timing: Sendable {
    public var id: String
    public var name: String
    /// Nanoseconds per operation.
    public var samples: [UInt64]
    public var operations: Int
    public var seconds: Double

    public init(id: String, name: String, samples: [UInt64], operations: Int, seconds: Double) {
        self.id = id
        self.name = name
        self.samples = samples.sorted()
        self.operations = operations
        self.seconds = seconds
    }

    public var median: Double { percentile(0.5) }
    public var p99: Double { percentile(0.99) }
    public var throughput: Double { Double(operations) / seconds }

    /// Microseconds at percentile `p` (nearest rank).
    public func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        return Double(samples[min(samples.count - 1, Int(Double(samples.count) * p))]) / 1_000
    }

    public var row: Row {
        Row(id: id, name: name, medianMicroseconds: median, p99Microseconds: p99, operationsPerSecond: throughput,
            operations: operations, seconds: seconds)
    }
}

/// What the benchmark executables write as JSON for `Benchmarks/report.py`.
public struct Row: Codable, Sendable {
    public var id: String
    public var name: String
    public var medianMicroseconds: Double
    public var p99Microseconds: Double
    public var operationsPerSecond: Double
    public var operations: Int
    public var seconds: Double
}

/// Times `body` `count` times, one sample per call, after `warmup` untimed calls.
public func measure(
    _ id: String, _ name: String, count: Int, warmup: Int = 200, _ body: () throws -> Void
) rethrows -> Timing {
    for _ in 0..<warmup { try body() }
    var samples: [UInt64] = []
    samples.reserveCapacity(count)
    let start = nowNanoseconds()
    for _ in 0..<count {
        let before = nowNanoseconds()
        try body()
        samples.append(nowNanoseconds() - before)
    }
    return Timing(id: id, name: name, samples: samples, operations: count, seconds: Double(nowNanoseconds() - start) / 1e9)
}

/// The async variant of ``measure(_:_:count:warmup:_:)``.
public func measureAsync(
    _ id: String, _ name: String, count: Int, warmup: Int = 200, _ body: () async throws -> Void
) async rethrows -> Timing {
    for _ in 0..<warmup { try await body() }
    var samples: [UInt64] = []
    samples.reserveCapacity(count)
    let start = nowNanoseconds()
    for _ in 0..<count {
        let before = nowNanoseconds()
        try await body()
        samples.append(nowNanoseconds() - before)
    }
    return Timing(id: id, name: name, samples: samples, operations: count, seconds: Double(nowNanoseconds() - start) / 1e9)
}

/// A failure that ends the benchmark with a message (and a non-zero exit).
public struct BenchFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `--name value` from the command line.
public func argument(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

/// Writes `value` as pretty JSON to `path`.
public func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(value).write(to: URL(fileURLWithPath: path))
}

/// Formats with `digits` decimals.
public func format(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

/// The LMDB library's version string.
public func lmdbVersion() -> String { TollgateLMDB.Environment.libraryVersion }

/// A progress line on standard error (unbuffered, so it shows while a long step runs).
public func progress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Times several workloads in alternating blocks (`rounds` × `perRound` calls each), so that
/// the machine's changing load falls on all of them alike: their ratios are what count.
public func measureInterleaved(
    _ workloads: [(id: String, name: String, body: () throws -> Void)], rounds: Int, perRound: Int, warmup: Int = 200
) throws -> [Timing] {
    for workload in workloads { for _ in 0..<warmup { try workload.body() } }
    var samples = Array(repeating: [UInt64](), count: workloads.count)
    var elapsed = Array(repeating: UInt64(0), count: workloads.count)
    for index in samples.indices { samples[index].reserveCapacity(rounds * perRound) }
    for _ in 0..<rounds {
        for (index, workload) in workloads.enumerated() {
            let start = nowNanoseconds()
            for _ in 0..<perRound {
                let before = nowNanoseconds()
                try workload.body()
                samples[index].append(nowNanoseconds() - before)
            }
            elapsed[index] += nowNanoseconds() - start
        }
    }
    return workloads.indices.map { index in
        Timing(id: workloads[index].id, name: workloads[index].name, samples: samples[index], operations: rounds * perRound,
               seconds: Double(elapsed[index]) / 1e9)
    }
}
