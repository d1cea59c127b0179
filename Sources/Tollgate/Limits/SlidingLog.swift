/// One admitted request (or several admitted in the same microsecond) in a sliding log.
public struct SlidingLogEntry: Sendable, Hashable {
    /// When it was counted, in microseconds since the epoch.
    public var at: Int64
    /// Its cost; never 0 in a stored log.
    public var cost: UInt64

    public init(at: Int64, cost: UInt64) {
        self.at = at
        self.cost = cost
    }
}

/// The exact moving window: every admitted request is logged with its time and cost, and a
/// request of cost `c` at `now` is admitted iff the costs logged in `(now − window, now]` plus `c`
/// are at most `quantity`. Unlike the two-window estimate of ``SlidingWindow``, no window of
/// length `window` — wherever it starts — ever holds more than `quantity`.
///
/// The price is memory: one 16-byte entry per admitted request still in the window, so
/// validation caps the quantity at ``maximumQuantity`` (the log then never holds more entries,
/// as every entry costs at least 1).
struct SlidingLog: LimiterAlgorithm {
    var quantity: UInt64
    var window: Int64

    /// The largest quantity a sliding-log limit may have, and so the most entries a stored log
    /// holds (what the counter decoder accepts).
    static let maximumQuantity: UInt64 = 1_000

    struct State: Hashable {
        /// Oldest first, strictly increasing times, costs > 0, all still in the window.
        var entries: [SlidingLogEntry]
        /// The sum of the entries' costs, in 128 bits: a damaged or edited log may sum past
        /// `UInt64.max`.
        var total: UInt128
    }

    func fresh(at now: Int64) -> State {
        State(entries: [], total: 0)
    }

    /// Drops the entries that have left the window: an entry at `t` counts while `t > now − window`
    /// and is gone from `now = t + window` on. Entries ahead of a clock that went back keep
    /// counting: a backwards clock only makes the limit stricter.
    func normalized(_ stored: CounterState, at now: Int64) -> State? {
        guard case .log(var entries) = stored else { return nil }
        // Stored logs are ordered (the decoder insists); a hand-built state may not be, and the
        // retry arithmetic walks the entries oldest first.
        if !entries.isSortedByTime { entries.sort { $0.at < $1.at } }
        let horizon = Int128(now) - Int128(window)
        let firstInWindow = entries.firstIndex { Int128($0.at) > horizon } ?? entries.endIndex
        if firstInWindow > 0 { entries.removeSubrange(..<firstInWindow) }
        var total: UInt128 = 0
        for entry in entries { total += UInt128(entry.cost) }
        return State(entries: entries, total: total)
    }

    func encoded(_ state: State) -> CounterState {
        .log(entries: state.entries)
    }

    /// Logs the cost at `now`, or at the newest entry's time when the clock went back (so the
    /// log stays ordered and the entry counts at least as long as it would have). Two requests in
    /// one microsecond share an entry: the log never holds more entries than its total cost.
    func admitting(_ cost: UInt64, to state: State, at now: Int64) -> State? {
        guard cost <= quantity, state.total <= UInt128(quantity - cost) else { return nil }
        var next = state
        if let last = next.entries.last, last.at >= now {
            next.entries[next.entries.count - 1].cost = last.cost + cost
        } else {
            next.entries.append(SlidingLogEntry(at: now, cost: cost))
        }
        next.total += UInt128(cost)
        return next
    }

    func remaining(in state: State, at now: Int64) -> UInt64 {
        state.total < UInt128(quantity) ? quantity - UInt64(state.total) : 0
    }

    /// Until the newest entry leaves the window; 0 when the log is empty.
    func resetAfter(_ state: State, at now: Int64) -> Int64 {
        guard let last = state.entries.last else { return 0 }
        return delay(from: now, until: Int128(last.at) + Int128(window))
    }

    /// Nothing is admitted while waiting, so the log only loses entries, oldest first: the cost
    /// fits from the instant the oldest entry whose departure brings the total down to
    /// `quantity − cost` leaves the window, and not one microsecond earlier.
    func retryAfter(_ cost: UInt64, in state: State, at now: Int64) -> Int64? {
        guard cost <= quantity else { return nil }
        let bound = UInt128(quantity - cost)
        var total = state.total
        for entry in state.entries {
            total -= UInt128(entry.cost)
            if total <= bound { return delay(from: now, until: Int128(entry.at) + Int128(window)) }
        }
        // Only asked when the cost does not fit, so some entry must leave first; an empty log
        // fits any cost up to the quantity.
        return 0
    }

    /// Taken from the newest entries first: a refund normally follows its request closely.
    func refunding(_ cost: UInt64, to state: State, at now: Int64) -> State {
        var next = state
        var left = cost
        while left > 0, let last = next.entries.last {
            let taken = min(left, last.cost)
            left -= taken
            next.total -= UInt128(taken)
            if taken == last.cost {
                next.entries.removeLast()
            } else {
                next.entries[next.entries.count - 1].cost = last.cost - taken
            }
        }
        return next
    }

    /// From the charge's own entry — the newest one of the state it left — while that entry is
    /// still in the window, and at most the refunded cost of it; `nil` once it has left.
    func refunding(_ cost: UInt64, charged: CounterState, to state: State, at now: Int64) -> State? {
        guard case .log(let chargedEntries) = charged, let mark = chargedEntries.last,
              let index = state.entries.lastIndex(where: { $0.at == mark.at })
        else { return nil }
        var next = state
        let entry = next.entries[index]
        let taken = min(cost, entry.cost)
        next.total -= UInt128(taken)
        if taken == entry.cost {
            next.entries.remove(at: index)
        } else {
            next.entries[index].cost = entry.cost - taken
        }
        return next
    }
}

extension Array where Element == SlidingLogEntry {
    /// Whether the times never decrease.
    var isSortedByTime: Bool {
        var previous = Int64.min
        for entry in self {
            guard entry.at >= previous else { return false }
            previous = entry.at
        }
        return true
    }
}
