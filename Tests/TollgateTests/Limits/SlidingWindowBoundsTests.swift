import Foundation
import Testing
@testable import Tollgate

/// How far the two-window estimate admits beyond `q` in a true moving window of length `W`, measured
/// against an exact log of what it admitted. The figures are the ones Docs/limits.md states.
@Suite("Sliding window bounds")
struct SlidingWindowBoundsTests {
    static let window: Int64 = 60 * microsecondsPerSecond
    static let quantity: UInt64 = 100

    /// Per admission, how many admissions lie in the moving window `(t − W, t]` ending at it.
    static func movingCounts(_ admitted: [Int64], window: Int64) -> [Int] {
        var counts: [Int] = []
        var first = 0
        for (index, time) in admitted.enumerated() {
            while admitted[first] <= time - window { first += 1 }
            counts.append(index - first + 1)
        }
        return counts
    }

    struct Measurement {
        var admissions = 0
        var overQuota = 0
        var maximum = 0
        var overShare: Double { admissions == 0 ? 0 : Double(overQuota) / Double(admissions) }
    }

    static func measure(_ strategy: Strategy, burst: UInt64? = nil, arrivals: [Int64]) -> Measurement {
        var run = LimiterRun(limit(strategy, quantity: quantity, window: window, burst: burst))
        let admitted = arrivals.filter { run.request(at: micros($0)).allowed }
        let counts = movingCounts(admitted, window: window)
        return Measurement(
            admissions: admitted.count, overQuota: counts.count { $0 > Int(quantity) }, maximum: counts.max() ?? 0)
    }

    /// `q` requests in the last microsecond of a window, then a retry every millisecond.
    static var adversary: [Int64] {
        let start = 1_000 * window
        return Array(repeating: start - 1, count: Int(quantity)) + Array(stride(from: start, to: start + 3 * window, by: 1_000))
    }

    /// Exponential gaps at `rate` requests per window, or bursts of 1…20 at once at that mean rate.
    static func traffic(rate: Double, bursty: Bool, seed: UInt64) -> [Int64] {
        var rng = SplitMix64(seed: seed)
        var arrivals: [Int64] = []
        var now = 1_000 * window
        let perBurst = bursty ? 10.5 : 1
        while arrivals.count < 20_000 {
            let uniform = Double(UInt64.random(in: 1...UInt64(1) << 52, using: &rng)) / Double(UInt64(1) << 52)
            now += Int64(-Double(window) / (rate / perBurst) * log(uniform)) + 1
            let size = bursty ? Int.random(in: 1...20, using: &rng) : 1
            arrivals += Array(repeating: now, count: size)
        }
        return arrivals
    }

    @Test("the adversary gets 2q − 1 through the sliding window in one window length")
    func adversaryGetsTwiceTheQuota() {
        let measured = Self.measure(.slidingWindow, arrivals: Self.adversary)
        #expect(measured.maximum == 2 * Int(Self.quantity) - 1)
    }

    @Test("steady and bursty traffic: over-admission against an exact moving window")
    func randomTraffic() {
        var table: [String] = []
        for (rate, bursty, low, high) in [
            (0.4, false, 0.0, 0.0), (0.9, false, 0.01, 0.25), (1.0, false, 0.01, 0.25), (2.0, false, 0.01, 0.25),
            (1.0, true, 0.01, 0.25), (2.0, true, 0.01, 0.25),
        ] {
            let measured = Self.measure(.slidingWindow, arrivals: Self.traffic(rate: rate * Double(Self.quantity), bursty: bursty, seed: 42))
            table.append("\(rate) q/W\(bursty ? " bursty" : ""): \(measured.overQuota)/\(measured.admissions) over, max \(measured.maximum)")
            #expect(measured.overShare >= low && measured.overShare <= high, "\(table.last!)")
            #expect(measured.maximum < 2 * Int(Self.quantity))
        }
        print("sliding window vs exact moving window (q = 100, W = 60 s):\n" + table.joined(separator: "\n"))
    }

    /// The exact choice Docs/limits.md names: GCRA with `burst=1` spaces admissions `W / q` apart,
    /// so no moving window of length `W` ever holds more than `q` — adversary and random traffic.
    @Test("GCRA with burst 1 never admits more than q in any window length")
    func gcraWithBurstOneIsExact() {
        var arrivals = [Self.adversary]
        for (rate, bursty) in [(0.9, false), (2.0, false), (1.0, true), (2.0, true)] {
            arrivals.append(Self.traffic(rate: rate * Double(Self.quantity), bursty: bursty, seed: 7))
        }
        for traffic in arrivals {
            let measured = Self.measure(.gcra, burst: 1, arrivals: traffic)
            #expect(measured.maximum <= Int(Self.quantity))
            #expect(measured.overQuota == 0)
            #expect(measured.admissions > 0)
        }
    }
}
