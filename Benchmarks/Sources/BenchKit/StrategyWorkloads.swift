import Tollgate
import TollgateLMDB
import Foundation
import Synchronization

/// A clock the strategy rows move by hand: each decision is `step` µs after the last, so a
/// sliding log stays full (one entry leaves as one enters) and every decision is allowed.
final class SteppingClock: TimeSource {
    private let current: Mutex<Int64>
    init(_ start: Int64) { current = Mutex(start) }
    func now() -> Timestamp { Timestamp(microseconds: current.withLock { $0 }) }
    func advance(_ step: Int64) { current.withLock { $0 += step } }
}

/// The sliding log against the sliding window (Docs/limits.md, "Sliding log"): one key on a
/// one-limit tier per strategy and quantity, `q` per minute, requests spaced `W / q` apart so the
/// log holds `q` entries at every decision and every decision is admitted and written.
public final class StrategyWorkloads: Sendable {
    public struct Case: Sendable {
        public let id: String
        public let name: String
        let strategy: Strategy
        let quantity: UInt64
        let store: Store
        let key: String
        let clock: SteppingClock
        var step: Int64 { 60_000_000 / Int64(quantity) }
    }

    public let root: String
    public let cases: [Case]

    public init(root: String) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var cases: [Case] = []
        for (strategy, label) in [(Strategy.slidingWindow, "sliding"), (.slidingLog, "sliding_log")] {
            for quantity: UInt64 in [100, 1_000] {
                let clock = SteppingClock(1_767_225_600_000_000)
                var options = Store.Options(path: root + "/\(label)-\(quantity)")
                options.durability = .periodic(interval: .milliseconds(100))
                options.clock = clock
                let store = try Store(options: options)
                // Under requests exactly `W / q` apart the sliding window's estimate sits at `q` and
                // would refuse; at `2q` it admits them all, and its state (and cost) does not depend on `q`.
                let limitQuantity = strategy == .slidingWindow ? 2 * quantity : quantity
                try store.setTier(Tier(name: "t", limits: [Limit(name: "minute", strategy: strategy, quantity: limitQuantity, windowMicroseconds: 60_000_000)]))
                let key = try store.createKey(NewKey(owner: "bench", tier: "t")).secret
                cases.append(Case(id: "\(label)_\(quantity)", name: "authorize, \(label.replacingOccurrences(of: "_", with: " ")), q = \(quantity)/minute, full",
                                  strategy: strategy, quantity: quantity, store: store, key: key, clock: clock))
            }
        }
        self.cases = cases
        // Fill each log (and the window) before anything is timed: q + 1 spaced decisions.
        for workload in cases {
            for _ in 0...workload.quantity { try decide(workload) }
        }
    }

    /// One spaced decision; fails loudly when it is not admitted (the rows time admissions).
    public func decide(_ workload: Case) throws {
        workload.clock.advance(workload.step)
        let decision: Decision = try workload.store.authorize(key: workload.key)
        guard decision.isAllowed else { throw BenchFailure("\(workload.id): \(decision.outcome) at step \(workload.step)") }
    }

    /// The bytes of each case's counter record as stored: closes the stores (LMDB opens one
    /// environment once per process), so call it last.
    public func counterRecordBytes() throws -> [(id: String, bytes: Int)] {
        try cases.map { workload in
            workload.store.close()
            var options = Environment.Options(path: workload.store.options.path)
            options.readOnly = true
            let environment = try Environment(options: options)
            defer { environment.close() }
            guard let counters = try environment.table(named: "counters", create: false) else { throw BenchFailure("no counters table") }
            let largest = try environment.read { txn in
                var largest = 0
                try txn.forEach(in: counters) { _, value in
                    largest = max(largest, value.count)
                    return .continue
                }
                return largest
            }
            return (workload.id, largest)
        }
    }

    public func close() {
        for workload in cases { workload.store.close() }
        try? FileManager.default.removeItem(atPath: root)
    }
}
