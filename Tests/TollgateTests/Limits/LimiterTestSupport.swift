@testable import Tollgate
import TollgateTestSupport

/// The seeded generator of TollgateTestSupport, under the name these tests know it by.
typealias SplitMix64 = SeededGenerator

extension SeededGenerator {
    /// True with probability `percent` / 100.
    mutating func chance(_ percent: UInt64) -> Bool {
        UInt64.random(in: 0..<100, using: &self) < percent
    }
}

let microsecondsPerSecond: Int64 = 1_000_000
let microsecondsPerDay: Int64 = 86_400 * microsecondsPerSecond

func seconds(_ value: Int64) -> Timestamp { Timestamp(seconds: value) }
func micros(_ value: Int64) -> Timestamp { Timestamp(microseconds: value) }

/// UTC midnight of a day given as days since 1970-01-01 (values checked against Python's `datetime`).
func midnight(ofDay day: Int64) -> Timestamp { Timestamp(microseconds: day * microsecondsPerDay) }

func limit(
    _ strategy: Strategy,
    quantity: UInt64,
    window: Int64 = microsecondsPerSecond,
    burst: UInt64? = nil
) -> Limit {
    Limit(name: "test", strategy: strategy, quantity: quantity, windowMicroseconds: window, burst: burst)
}

/// Runs requests one after the other, storing each returned state as the caller would.
struct LimiterRun {
    let limit: Limit
    var state: CounterState?

    init(_ limit: Limit, state: CounterState? = nil) {
        self.limit = limit
        self.state = state
    }

    @discardableResult
    mutating func request(_ cost: UInt64 = 1, at now: Timestamp) -> LimitCheck {
        let (check, next) = limit.evaluate(state, cost: cost, at: now)
        state = next
        return check
    }

    /// How many requests of `cost` in a row are allowed at `now`, stopping at the first denial.
    mutating func admitAll(_ cost: UInt64 = 1, at now: Timestamp, upTo maximum: Int = 10_000) -> Int {
        var admitted = 0
        while admitted < maximum, request(cost, at: now).allowed { admitted += 1 }
        return admitted
    }

    /// Whether a request would be allowed, without storing anything.
    func wouldAllow(_ cost: UInt64 = 1, at now: Timestamp) -> Bool {
        limit.evaluate(state, cost: cost, at: now).check.allowed
    }

    mutating func refund(_ cost: UInt64, at now: Timestamp) {
        state = limit.refund(state, cost: cost, at: now)
    }
}
