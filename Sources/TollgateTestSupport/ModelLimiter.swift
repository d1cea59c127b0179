public import Tollgate

// The model's limiter arithmetic, written from Docs/limits.md and not from Sources/Tollgate/Limits:
// each counter is a log of the writes the store made to it (admitted requests, refunds), replayed
// from the start whenever it is read. What the engine computes in closed form, the model finds
// the slow way: `remaining` by trying every cost from the bound down, `retryAfter` and
// `resetAfter` by a binary search for the first microsecond at which the plain predicate
// ("would this cost be admitted at t?", "is the limit back to fresh at t?") holds. Only the
// admission predicates themselves and the state updates are the documented formulas.

/// Which stored case a strategy's state has: a counter written under one case reads as fresh
/// under another (Docs/limits.md, "Fresh state"). Fixed window and the calendar quotas share one.
public enum ModelCounterKind: Equatable, Sendable {
    case window, sliding, bucket, gcra, log

    public init(_ strategy: Strategy) {
        switch strategy {
        case .fixedWindow, .calendarDay, .calendarMonth: self = .window
        case .slidingWindow: self = .sliding
        case .tokenBucket: self = .bucket
        case .gcra: self = .gcra
        case .slidingLog: self = .log
        }
    }
}

/// One write to a counter.
enum ModelCounterEvent {
    /// An admitted request (cost 0 too: it writes the state brought forward to `at`).
    case charge(at: Int64, cost: UInt64)
    /// Window strategies: `cost` taken off the count of the window starting at `window`, not below 0.
    case refund(at: Int64, window: Int64, cost: UInt64)
    /// Token bucket: scaled tokens given back (capped at the capacity); GCRA: the scaled arrival
    /// moved back by `scaled` (not before `at`).
    case giveBack(at: Int64, scaled: Int128)
    /// Sliding log: up to `cost` taken off the entry logged at `entry` (removed at 0).
    case unlog(at: Int64, entry: Int64, cost: UInt64)

    var at: Int64 {
        switch self {
        case .charge(let at, _), .refund(let at, _, _), .giveBack(let at, _), .unlog(let at, _, _): at
        }
    }
}

/// What a refund needs to know about one charge (the receipt's part per counter).
public enum ModelCharge: Sendable {
    /// Window strategies: the window the cost was counted in.
    case window(start: Int64)
    /// Token bucket: when, and how far below full (scaled) the charge left the bucket.
    case bucket(at: Int64, deficit: Int128)
    /// GCRA: the scaled arrival the charge left.
    case gcra(arrival: Int128)
    /// Sliding log: the time of the entry the cost was logged in.
    case log(entry: Int64)
}

/// A limit's answer for one request, as the model derives it.
struct ModelCheck {
    var allowed: Bool
    /// After the request when allowed, else now.
    var remaining: UInt64
    /// Now, before any charge (what a peek or a refused decision reports).
    var remainingNow: UInt64
    var retryAfter: Int64
    var resetAfter: Int64
    var neverFits: Bool
}

/// One counter: the limit it was written under and every write since it was created.
public struct ModelCounter {
    public var limit: Limit
    var events: [ModelCounterEvent] = []

    var kind: ModelCounterKind { ModelCounterKind(limit.strategy) }

    init(limit: Limit) { self.limit = limit }

    // MARK: Replay

    /// The counter's history folded up to its last write.
    struct Replay {
        /// Window strategies: count per window start.
        var counts: [Int64: UInt64] = [:]
        /// Token bucket: tokens × W, and the time of the last write.
        var scaledTokens: Int128 = 0
        var updated: Int64 = 0
        /// GCRA: theoretical arrival time × q.
        var scaledArrival: Int128 = 0
        var lastWrite: Int64 = 0
        /// Sliding log: every logged cost, oldest first (one entry per microsecond).
        var entries: [(at: Int64, cost: UInt64)] = []
    }

    var q: Int128 { Int128(limit.quantity) }
    var w: Int128 { Int128(limit.windowMicroseconds) }
    var capacity: Int128 { Int128(limit.burst ?? limit.quantity) }

    /// The window (its start and end) containing `t`: epoch-aligned multiples of W, or the UTC day
    /// or month.
    func window(_ t: Int64) -> (start: Int64, end: Int64) {
        switch limit.strategy {
        case .calendarDay: return ModelCalendar.dayPeriod(t)
        case .calendarMonth: return ModelCalendar.monthPeriod(t)
        default:
            let length = limit.windowMicroseconds
            var start = (t / length) * length
            if start > t { start -= length }
            return (start, start + length)
        }
    }

    func replay() -> Replay {
        var state = Replay()
        for (index, event) in events.enumerated() {
            let t = event.at
            // Bring the bucket forward to the write (a fresh bucket is full; GCRA has no debt).
            if index == 0 {
                state.scaledTokens = capacity * w
                state.updated = t
                state.scaledArrival = Int128(t) * q
            }
            state.scaledTokens = min(capacity * w, state.scaledTokens + q * Int128(t - state.updated))
            state.updated = t
            state.scaledArrival = max(state.scaledArrival, Int128(t) * q)
            state.lastWrite = t
            switch event {
            case .charge(_, let cost):
                if cost > 0 {
                    if let last = state.entries.last, last.at >= t {
                        state.entries[state.entries.count - 1].cost += cost
                    } else {
                        state.entries.append((t, cost))
                    }
                }
                state.counts[window(t).start, default: 0] += cost
                state.scaledTokens -= Int128(cost) * w
                state.scaledArrival += Int128(cost) * w
            case .refund(_, let start, let cost):
                let count = state.counts[start, default: 0]
                state.counts[start] = count >= cost ? count - cost : 0
            case .unlog(_, let entry, let cost):
                if let index = state.entries.lastIndex(where: { $0.at == entry }) {
                    let logged = state.entries[index].cost
                    if logged <= cost { state.entries.remove(at: index) } else { state.entries[index].cost = logged - cost }
                }
            case .giveBack(_, let scaled):
                state.scaledTokens = min(capacity * w, state.scaledTokens + scaled)
                state.scaledArrival = max(state.scaledArrival - scaled, Int128(t) * q)
            }
        }
        return state
    }

    // MARK: Predicates at any later time (nothing written in between)

    /// Whether `cost` would be admitted at `t`.
    func admits(_ state: Replay, _ cost: UInt64, at t: Int64) -> Bool {
        let k = Int128(cost)
        if cost == 0 { return true }
        switch kind {
        case .window:
            return Int128(state.counts[window(t).start] ?? 0) + k <= q
        case .sliding:
            let current = window(t).start
            let count = Int128(state.counts[current] ?? 0)
            let previous = Int128(state.counts[current - limit.windowMicroseconds] ?? 0)
            let elapsed = Int128(t - current)
            // previous × (W − e) / W + count + k ≤ q, multiplied out by W.
            return k <= q && previous * (w - elapsed) + (count + k) * w <= q * w
        case .bucket:
            return k * w <= tokens(state, at: t)
        case .gcra:
            let arrival = max(state.scaledArrival, Int128(t) * q)
            return arrival + k * w - Int128(t) * q <= capacity * w
        case .log:
            return k <= q && logged(state, at: t) + k <= q
        }
    }

    /// The cost logged in `(t − W, t]`.
    func logged(_ state: Replay, at t: Int64) -> Int128 {
        state.entries.reduce(0) { $1.at > t - limit.windowMicroseconds && $1.at <= t ? $0 + Int128($1.cost) : $0 }
    }

    func tokens(_ state: Replay, at t: Int64) -> Int128 {
        min(capacity * w, state.scaledTokens + q * Int128(t - state.updated))
    }

    /// Whether the limit is back to what a fresh counter answers, at `t`.
    func isFresh(_ state: Replay, at t: Int64) -> Bool {
        switch kind {
        case .window:
            return (state.counts[window(t).start] ?? 0) == 0
        case .sliding:
            let current = window(t).start
            let previous = state.counts[current - limit.windowMicroseconds] ?? 0
            // previous × (W − e) / W + count, with W − e > 0 inside the window.
            return (state.counts[current] ?? 0) == 0 && previous == 0
        case .bucket:
            return tokens(state, at: t) == capacity * w
        case .gcra:
            return state.scaledArrival <= Int128(t) * q
        case .log:
            return logged(state, at: t) == 0
        }
    }

    /// The largest cost `admits` at `t`: every cost from the bound down is tried.
    func largestAdmitted(_ state: Replay, at t: Int64) -> UInt64 {
        let bound = kind == .bucket || kind == .gcra ? limit.burst ?? limit.quantity : limit.quantity
        var cost = bound
        while cost > 0 && !admits(state, cost, at: t) { cost -= 1 }
        return cost
    }

    /// Longer than any wait a model limit can ask for (a bucket of ≤ 100 at ≥ 1 per W, a month).
    var horizon: Int64 {
        let bound = Int64(max(limit.quantity, limit.burst ?? 0))
        return (bound + 3) * (limit.windowMicroseconds + 32 * ModelCalendar.dayMicroseconds)
    }

    /// The smallest `d` in `from...horizon` with `holds(now + d)`, for a `holds` that stays true
    /// once true (nothing is admitted in between, so every limit only loosens). `nil`: never.
    func firstTime(from: Int64, after now: Int64, _ holds: (Int64) -> Bool) -> Int64? {
        var low = from
        var high = horizon
        guard holds(now + high) else { return nil }
        while low < high {
            let middle = low + (high - low) / 2
            if holds(now + middle) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    // MARK: A request

    /// The answer for `cost` at `now`, and whether the counter can be charged.
    func check(_ cost: UInt64, at now: Int64) -> ModelCheck {
        let state = replay()
        let bound = kind == .bucket || kind == .gcra ? limit.burst ?? limit.quantity : limit.quantity
        if admits(state, cost, at: now) {
            var charged = self
            charged.events.append(.charge(at: now, cost: cost))
            let after = charged.replay()
            return ModelCheck(allowed: true, remaining: charged.largestAdmitted(after, at: now),
                              remainingNow: largestAdmitted(state, at: now), retryAfter: 0,
                              resetAfter: charged.resetAfter(after, at: now), neverFits: false)
        }
        let neverFits = cost > bound
        var retry: Int64 = 0
        if !neverFits {
            guard let first = firstTime(from: 1, after: now, { admits(state, cost, at: $0) }) else {
                fatalError("model: \(limit) never admits \(cost) after \(now)")
            }
            retry = first
        }
        let now0 = largestAdmitted(state, at: now)
        return ModelCheck(allowed: false, remaining: now0, remainingNow: now0, retryAfter: retry,
                          resetAfter: resetAfter(state, at: now), neverFits: neverFits)
    }

    func resetAfter(_ state: Replay, at now: Int64) -> Int64 {
        // Window strategies report the end of the window even when it is empty (the reset instant
        // a `RateLimit` header's `t` expects), not "fully available".
        if kind == .window { return window(now).end - now }
        guard let first = firstTime(from: 0, after: now, { isFresh(state, at: $0) }) else {
            fatalError("model: \(limit) never fresh after \(now)")
        }
        return first
    }

    /// A fresh counter of `limit` (no history) or this one, when `limit` reads its state.
    static func reading(_ counter: ModelCounter?, as limit: Limit) -> ModelCounter {
        if let counter, counter.kind == ModelCounterKind(limit.strategy) {
            var same = counter
            same.limit = limit
            return same
        }
        return ModelCounter(limit: limit)
    }

    /// Charges `cost` at `now` (the request was admitted); returns what a refund needs.
    mutating func charge(_ cost: UInt64, at now: Int64) -> ModelCharge {
        events.append(.charge(at: now, cost: cost))
        let state = replay()
        switch kind {
        case .window, .sliding: return .window(start: window(now).start)
        case .bucket: return .bucket(at: now, deficit: capacity * w - state.scaledTokens)
        case .gcra: return .gcra(arrival: state.scaledArrival)
        case .log: return .log(entry: state.entries.last?.at ?? now)
        }
    }

    /// Gives back what is still in force of `charge` (Docs/limits.md, "charged refund"); false:
    /// nothing to write.
    /// With nothing to take back now (an empty count, a full bucket, no debt) nothing is written.
    mutating func refund(_ charge: ModelCharge, cost: UInt64, at now: Int64) -> Bool {
        let k = Int128(cost)
        let state = replay()
        switch (kind, charge) {
        case (.window, .window(let start)):
            guard start == window(now).start, (state.counts[start] ?? 0) > 0 else { return false }
            events.append(.refund(at: now, window: start, cost: cost))
        case (.sliding, .window(let start)):
            let current = window(now).start
            guard start == current || start == current - limit.windowMicroseconds, (state.counts[start] ?? 0) > 0 else { return false }
            events.append(.refund(at: now, window: start, cost: cost))
        case (.bucket, .bucket(let at, let deficit)):
            // The refill has repaid q per µs of the deficit since the charge.
            let left = deficit - q * Int128(now - at)
            guard left > 0, tokens(state, at: now) < capacity * w else { return false }
            events.append(.giveBack(at: now, scaled: min(k * w, left)))
        case (.log, .log(let entry)):
            // Only while the entry is still in the window; a cost-0 charge logged nothing.
            guard cost > 0, entry > now - limit.windowMicroseconds, state.entries.contains(where: { $0.at == entry }) else { return false }
            events.append(.unlog(at: now, entry: entry, cost: cost))
        case (.gcra, .gcra(let arrival)):
            let unpaid = arrival - Int128(now) * q
            guard unpaid > 0, state.scaledArrival > Int128(now) * q else { return false }
            events.append(.giveBack(at: now, scaled: min(k * w, unpaid)))
        default:
            return false
        }
        return true
    }

    /// The state as the store keeps it, for the final comparison.
    var storedState: CounterState {
        let state = replay()
        switch kind {
        case .window:
            let start = window(state.lastWrite).start
            return .window(start: start, count: state.counts[start] ?? 0)
        case .sliding:
            let start = window(state.lastWrite).start
            return .sliding(start: start, count: state.counts[start] ?? 0, previous: state.counts[start - limit.windowMicroseconds] ?? 0)
        case .bucket:
            return .bucket(scaledTokens: state.scaledTokens, updated: state.updated)
        case .gcra:
            return .gcra(scaledArrival: state.scaledArrival)
        case .log:
            // Every write keeps only what is still in the window at its time.
            let horizon = state.lastWrite - limit.windowMicroseconds
            return .log(entries: state.entries.filter { $0.at > horizon }.map { SlidingLogEntry(at: $0.at, cost: $0.cost) })
        }
    }

    /// The window a decision reports: W, or the length of the current UTC day or month.
    func windowLength(at now: Int64) -> Int64 {
        switch limit.strategy {
        case .calendarDay, .calendarMonth:
            let period = window(now)
            return period.end - period.start
        default:
            return limit.windowMicroseconds
        }
    }

    /// The `q` and `w` of a `RateLimit-Policy` header (Docs/limits.md, "Rate-limit headers"):
    /// buckets announce their burst and the time to refill it from empty, rounded up.
    func policy(at now: Int64) -> (quantity: UInt64, window: Int64) {
        switch kind {
        case .window, .sliding, .log:
            return (limit.quantity, windowLength(at: now))
        case .bucket, .gcra:
            let scaled = capacity * w
            return (limit.burst ?? limit.quantity, Int64((scaled + q - 1) / q))
        }
    }
}
