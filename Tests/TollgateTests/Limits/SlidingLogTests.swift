import Testing
@testable import Tollgate

/// The sliding log: exact against a brute-force log, at the window's edges, with refunds and
/// under edited limits.
@Suite("Sliding log")
struct SlidingLogTests {
    static let window: Int64 = 1_000

    func log(_ quantity: UInt64, window: Int64 = Self.window) -> Limit {
        limit(.slidingLog, quantity: quantity, window: window)
    }

    func entries(_ pairs: [(Int64, UInt64)]) -> CounterState {
        .log(entries: pairs.map { SlidingLogEntry(at: $0.0, cost: $0.1) })
    }

    // MARK: Exactness

    /// What the limit must answer, computed from the admitted history alone: the cost admitted in
    /// `(now − W, now]`, and the first instant a cost fits.
    struct BruteForceLog {
        let quantity: UInt64
        let window: Int64
        var admitted: [(at: Int64, cost: UInt64)] = []

        func inWindow(at now: Int64) -> UInt64 {
            admitted.filter { $0.at > now - window && $0.at <= now }.reduce(0) { $0 + $1.cost }
        }

        func fits(_ cost: UInt64, at now: Int64) -> Bool { inWindow(at: now) + cost <= quantity }

        /// The first instant from `now` on at which `cost` fits, if nothing else is admitted: an
        /// entry's departure (`t + W`) is the only time the answer can change.
        func firstFit(_ cost: UInt64, from now: Int64) -> Int64? {
            guard cost <= quantity else { return nil }
            if fits(cost, at: now) { return now }
            return admitted.map { $0.at + window }.filter { $0 > now }.sorted().first { fits(cost, at: $0) }
        }

        /// The most cost any window of length W holds: the windows ending at each admission.
        var heaviestWindow: UInt64 { admitted.map { inWindow(at: $0.at) }.max() ?? 0 }
    }

    @Test("random arrivals: admitted exactly when the brute-force log has room, never more than q in any window")
    func exactAgainstBruteForce() {
        var failures: [String] = []
        var refusals = 0
        for run in 0..<UInt64(400) where failures.count < 5 {
            var rng = SplitMix64(seed: 0x510C + run)
            let quantity = UInt64.random(in: 1...12, using: &rng)
            let window = Int64.random(in: 1...400, using: &rng)
            let limit = log(quantity, window: window)
            var brute = BruteForceLog(quantity: quantity, window: window)
            var state: CounterState?
            var now = Int64.random(in: 0...1_000_000, using: &rng)
            for _ in 0..<120 {
                // Bursts in one microsecond, steps across edges, and long gaps.
                switch UInt64.random(in: 0..<10, using: &rng) {
                case 0..<3: break
                case 3..<8: now += Int64.random(in: 0...window / 2 + 1, using: &rng)
                case 8: now += window + Int64.random(in: -1...1, using: &rng)
                default: now += Int64.random(in: 0...3 * window, using: &rng)
                }
                let cost = UInt64.random(in: 0..<10, using: &rng) == 0 ? UInt64.random(in: 0...quantity + 2, using: &rng) : UInt64.random(in: 1...3, using: &rng)
                let (check, next) = limit.evaluate(state, cost: cost, at: micros(now))
                let expected = cost == 0 || brute.fits(cost, at: now)
                if check.allowed != expected {
                    failures.append("seed \(0x510C + run) q \(quantity) W \(window): cost \(cost) at \(now) allowed \(check.allowed), brute force \(expected)")
                    break
                }
                if check.allowed {
                    if cost > 0 { brute.admitted.append((now, cost)) }
                    state = next
                } else {
                    refusals += 1
                    let firstFit = brute.firstFit(cost, from: now)
                    if check.neverFits != (firstFit == nil) || (firstFit.map { $0 - now } ?? 0) != check.retryAfter {
                        failures.append("seed \(0x510C + run): cost \(cost) at \(now) \(check), brute force first fit \(String(describing: firstFit))")
                    }
                }
                let remaining = quantity - min(quantity, brute.inWindow(at: now))
                if check.remaining != remaining { failures.append("seed \(0x510C + run): remaining \(check.remaining) at \(now), brute force \(remaining)") }
            }
            if brute.heaviestWindow > quantity { failures.append("seed \(0x510C + run): a window holds \(brute.heaviestWindow) > \(quantity)") }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(refusals > 1_000)
    }

    /// The sliding window's worst case (Docs/limits.md): `q` in the last microsecond of a window,
    /// then steady retries. The log admits the next request only as the burst leaves the window.
    @Test("the adversary of the sliding window gets q per window length, no more")
    func adversary() {
        let measured = SlidingWindowBoundsTests.measure(.slidingLog, arrivals: SlidingWindowBoundsTests.adversary)
        #expect(measured.maximum == Int(SlidingWindowBoundsTests.quantity))
        #expect(measured.overQuota == 0)
        for (rate, bursty) in [(0.9, false), (2.0, false), (1.0, true), (2.0, true)] {
            let traffic = SlidingWindowBoundsTests.traffic(rate: rate * Double(SlidingWindowBoundsTests.quantity), bursty: bursty, seed: 7)
            let random = SlidingWindowBoundsTests.measure(.slidingLog, arrivals: traffic)
            #expect(random.overQuota == 0 && random.maximum <= Int(SlidingWindowBoundsTests.quantity) && random.admissions > 0, "\(rate) \(bursty)")
        }
    }

    // MARK: Window edges

    @Test("an entry counts until W − 1 µs after it and is gone at W")
    func windowEdges() {
        var run = LimiterRun(log(2))
        #expect(run.request(at: micros(0)).allowed)
        #expect(run.request(at: micros(500)).allowed)
        let full = run.request(at: micros(Self.window - 1))
        #expect(!full.allowed && full.retryAfter == 1 && full.remaining == 0 && !full.neverFits)
        // At W the first entry has left; the second leaves at 500 + W.
        let atEdge = run.request(at: micros(Self.window))
        #expect(atEdge.allowed && atEdge.remaining == 0 && atEdge.resetAfter == Self.window)
        let next = run.request(at: micros(Self.window))
        #expect(!next.allowed && next.retryAfter == 500)
        #expect(!run.wouldAllow(at: micros(500 + Self.window - 1)))
        #expect(run.wouldAllow(at: micros(500 + Self.window)))
        #expect(run.wouldAllow(at: micros(500 + Self.window + 1)))
        #expect(run.state == entries([(500, 1), (Self.window, 1)]))
        // A write prunes what has left: at 500 + W only the entry at W is kept.
        #expect(run.request(at: micros(500 + Self.window)).allowed)
        #expect(run.state == entries([(Self.window, 1), (500 + Self.window, 1)]))
    }

    @Test("reset is when the newest entry leaves; staleness follows it")
    func resetAndStaleness() {
        var run = LimiterRun(log(5))
        run.request(2, at: micros(100))
        let check = run.request(1, at: micros(300))
        #expect(check.resetAfter == Self.window)
        #expect(check.remaining == 2)
        let state = run.state!
        #expect(!log(5).isStale(state, at: micros(300 + Self.window - 1)))
        #expect(log(5).isStale(state, at: micros(300 + Self.window)))
    }

    @Test("requests in one microsecond share an entry: the log holds at most q entries")
    func sameMicrosecond() {
        var run = LimiterRun(log(10))
        #expect(run.admitAll(at: micros(7)) == 10)
        #expect(run.state == entries([(7, 10)]))
        var spread = LimiterRun(log(10))
        for t in 0..<20 { spread.request(at: micros(Int64(t))) }
        guard case .log(let kept) = spread.state else { Issue.record("not a log"); return }
        #expect(kept.count == 10)
    }

    // MARK: Cost 0 and cost > q

    @Test("cost 0 always passes and changes nothing; cost > q never fits")
    func zeroAndOversizedCosts() {
        var run = LimiterRun(log(3))
        #expect(run.admitAll(at: micros(0)) == 3)
        let before = run.state
        let zero = run.request(0, at: micros(1))
        #expect(zero.allowed && zero.remaining == 0 && run.state == before)
        let oversized = log(3).evaluate(nil, cost: 4, at: micros(0)).check
        #expect(!oversized.allowed && oversized.neverFits && oversized.retryAfter == 0 && oversized.remaining == 3)
        let exact = log(3).evaluate(nil, cost: 3, at: micros(0)).check
        #expect(exact.allowed && exact.remaining == 0)
    }

    @Test("a clock that goes back logs at the newest entry's time: stricter, never looser")
    func backwardsClock() {
        var run = LimiterRun(log(2))
        #expect(run.request(at: micros(10_000)).allowed)
        #expect(run.request(at: micros(9_000)).allowed)
        #expect(run.state == entries([(10_000, 2)]))
        #expect(!run.wouldAllow(at: micros(9_500)))
        #expect(run.wouldAllow(at: micros(10_000 + Self.window)))
    }

    // MARK: Refunds

    @Test("a refund by receipt removes the charge's own entry, at most its cost, while it is in the window")
    func refundByReceipt() {
        let limit = log(3)
        let (_, first) = limit.evaluate(nil, cost: 2, at: micros(0))
        let (_, second) = limit.evaluate(first, cost: 1, at: micros(400))
        // The first charge's entry (at 0, cost 2) comes out; the second's stays.
        let refunded = limit.refund(second, charged: first, cost: 2, at: micros(500))
        #expect(refunded == entries([(400, 1)]))
        // A receipt for more than its entry holds takes only the entry.
        #expect(limit.refund(second, charged: second, cost: 5, at: micros(500)) == entries([(0, 2)]))
        // Part of a shared entry.
        let (_, shared) = limit.evaluate(second, cost: 0, at: micros(400))
        #expect(limit.refund(shared, charged: first, cost: 1, at: micros(500)) == entries([(0, 1), (400, 1)]))
        // Once the entry has left the window there is nothing to give back.
        #expect(limit.refund(second, charged: first, cost: 2, at: micros(Self.window)) == nil)
        #expect(limit.refund(second, charged: second, cost: 1, at: micros(400 + Self.window)) == nil)
        // A charge of another strategy's state gives nothing.
        #expect(limit.refund(second, charged: .window(start: 0, count: 1), cost: 1, at: micros(500)) == nil)
    }

    @Test("a refund without receipt comes off the newest entries")
    func refundNewestFirst() {
        let limit = log(5)
        let state = entries([(0, 2), (100, 1), (200, 1)])
        #expect(limit.refund(state, cost: 3, at: micros(300)) == entries([(0, 1)]))
        #expect(limit.refund(state, cost: 9, at: micros(300)) == entries([]))
        #expect(limit.refund(state, cost: 1, at: micros(Self.window + 50)) == entries([(100, 1)]))
    }

    // MARK: Edited limits

    @Test("a lowered quantity waits for enough entries to leave; a raised one admits at once")
    func editedQuantity() {
        let state = entries([(0, 1), (100, 2), (200, 2)])
        let lowered = log(3).evaluate(state, cost: 1, at: micros(300)).check
        // 5 counted, 2 may stay for a cost of 1: the entries at 0 and 100 must leave.
        #expect(!lowered.allowed && lowered.remaining == 0 && lowered.retryAfter == 100 + Self.window - 300)
        let raised = log(10).evaluate(state, cost: 5, at: micros(300)).check
        #expect(raised.allowed && raised.remaining == 0)
    }

    @Test("a shortened window drops what it no longer covers; a lengthened one counts what the log still holds")
    func editedWindow() {
        let state = entries([(0, 1), (600, 1)])
        let shorter = log(2, window: 500).evaluate(state, cost: 1, at: micros(700))
        #expect(shorter.check.allowed && shorter.state == entries([(600, 1), (700, 1)]))
        // A longer window counts every entry the log still holds…
        #expect(!log(2, window: 5_000).evaluate(state, cost: 1, at: micros(700)).check.allowed)
        // …but not one a write under the old window already pruned: more lenient, never a lock-out.
        #expect(log(2, window: 5_000).evaluate(entries([(600, 1)]), cost: 1, at: micros(700)).check.allowed)
    }

    @Test("another strategy's state reads as fresh, and the log reads as fresh to another strategy")
    func foreignStates() {
        #expect(log(1).evaluate(.window(start: 0, count: 9), cost: 1, at: micros(0)).check.allowed)
        #expect(limit(.fixedWindow, quantity: 1).evaluate(entries([(0, 9)]), cost: 1, at: micros(0)).check.allowed)
    }

    // MARK: Validation and spec

    @Test("the quantity is at most 1,000: a typed error beyond")
    func quantityBound() throws {
        #expect(throws: Never.self) { try log(1_000).validate() }
        #expect(throws: TollgateError.self) { try log(1_001).validate() }
        do {
            _ = try Limit(spec: "1001/minute:sliding-log")
            Issue.record("1001/minute:sliding-log parsed")
        } catch {
            #expect(error.reason.contains("at most 1000"))
        }
        let parsed = try Limit(spec: "m=100/minute:sliding-log,by=ip")
        #expect(parsed == Limit(name: "m", strategy: .slidingLog, quantity: 100, windowMicroseconds: 60_000_000, subject: .custom("ip")))
        #expect(parsed.spec == "m=100/1m:sliding-log,by=ip")
        #expect(try Limit(spec: "5/second:log").strategy == .slidingLog)
        #expect(throws: Limit.SpecError.self) { try Limit(spec: "5/second:sliding-log,burst=2") }
    }

    @Test("a policy file with sliding logs prints and parses back")
    func policyFileRoundTrip() throws {
        let file = try PolicyFile(parsing: "tier partner:  minute=100/minute:sliding-log  ip=20/90s:sliding-log,by=ip\n")
        #expect(file.tiers[0].limits.map(\.strategy) == [.slidingLog, .slidingLog])
        #expect(file.text == "tier partner: minute=100/1m:sliding-log ip=20/90s:sliding-log,by=ip\n")
        #expect(try PolicyFile(parsing: file.text) == file)
        #expect(throws: PolicyFile.ParseError.self) { try PolicyFile(parsing: "tier t: 5000/minute:sliding-log\n") }
    }

    @Test("the RateLimit-Policy header announces quantity per window")
    func policyHeader() {
        let policy = log(7, window: 60_000_000).rateLimitPolicy(at: micros(0))
        #expect(policy.quantity == 7 && policy.windowMicroseconds == 60_000_000)
    }
}
