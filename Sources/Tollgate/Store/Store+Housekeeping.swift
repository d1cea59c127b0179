import TollgateLMDB

/// What one ``Store/sweep(at:batchSize:maxBatches:)`` removed.
public struct SweepResult: Sendable, Hashable {
    /// Counters whose windows can no longer affect a decision.
    public var counters = 0
    /// Old secrets whose rotation grace period is over.
    public var rotatedKeys = 0
    /// Records of refunded decisions that can no longer be refunded anyway.
    public var refunds = 0
    /// Write transactions used (each at most `batchSize` deletions).
    public var batches = 0
    /// Whether the sweep reached the end of both tables (false: `maxBatches` stopped it).
    public var finished = true
}

extension Store {
    /// Deletes stale counters, expired rotation-grace records and refund records past their
    /// decision's refund horizon in bounded batches — one short write transaction per `batchSize`
    /// deletions, never one long one — so writers are never held up for long. A counter is stale
    /// once the limit that wrote it would treat it as fresh (its `staleAt` has passed) *and* so
    /// would every limit of its name in force now (tiers and key overrides, read once per sweep):
    /// a tier edit that lengthened a window keeps the counter. Deleting it changes no decision.
    ///
    /// `progress` is called after every batch with the totals so far.
    @discardableResult
    public func sweep(
        at: Timestamp? = nil, batchSize: Int = 1_000, maxBatches: Int = .max, progress: (SweepResult) -> Void = { _ in }
    ) throws(TollgateError) -> SweepResult {
        try ensureWritable()
        let now = now(at)
        var result = SweepResult()
        let batchSize = max(1, batchSize)
        let inForce = try limitsInForce()
        for (table, kind) in [(tables.counters, SweptTable.counters), (tables.keys, .keys), (try tables.refunds, .refunds)] {
            var resumeAt: [UInt8]? = nil
            while true {
                guard result.batches < maxBatches else {
                    result.finished = false
                    return result
                }
                let (removed, next) = try write("sweep", as: .decision) { txn -> (Int, [UInt8]?) in
                    var removed = 0
                    var next: [UInt8]? = nil
                    try txn.withCursor(over: table) { cursor in
                        var entry = try resumeAt.map { try cursor.seek(atLeast: $0) } ?? cursor.first()
                        var visited = 0
                        while let current = entry {
                            if removed >= batchSize || visited >= batchSize * 8 {
                                next = Array(current.key)
                                return
                            }
                            visited += 1
                            let expired = switch kind {
                            case .counters: try Self.counterIsStale(current.key, current.value, now: now, inForce: inForce)
                            case .keys: try Self.graceIsOver(current.value, now: now)
                            case .refunds: try RefundRecord.decode(current.value).until <= now
                            }
                            if expired {
                                try txn.deleteCurrent(&cursor)
                                removed += 1
                                entry = try cursor.next()
                            } else {
                                entry = try cursor.next()
                            }
                        }
                    }
                    return (removed, next)
                }
                result.batches += 1
                switch kind {
                case .counters: result.counters += removed
                case .keys: result.rotatedKeys += removed
                case .refunds: result.refunds += removed
                }
                progress(result)
                guard let next else { break }
                resumeAt = next
            }
        }
        return result
    }

    private enum SweptTable { case counters, keys, refunds }

    /// Every limit in force by counter name: the tiers' and the keys' overrides. A counter's
    /// `staleAt` was computed by the limit that last admitted into it; a tier edited since
    /// (same name, counters carry over) may count it for longer. Records that do not decode are
    /// skipped here (`check` reports them); their counters fall back to `staleAt`.
    private func limitsInForce() throws(TollgateError) -> [String: [Limit]] {
        try read("sweep") { txn in
            var limits: [String: [Limit]] = [:]
            func add(_ list: [Limit]) { for limit in list { limits[limit.name, default: []].append(limit) } }
            try txn.forEach(in: tables.tiers) { _, value in
                if let tier = try? Tier.decode(value) { add(tier.limits) }
                return .continue
            }
            try txn.forEach(in: tables.keys) { _, value in
                if case .primary(let key, _)? = try? StoredKey.decode(value) { add(key.limitOverrides) }
                return .continue
            }
            return limits
        }
    }

    private static func counterIsStale(
        _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, now: Timestamp, inForce: [String: [Limit]]
    ) throws -> Bool {
        let counter = try StoredCounter.decode(value)
        guard counter.staleAt <= now else { return false }
        // `subject · 0x00 · limit name`; the subject holds no 0x00.
        guard let separator = key.firstIndex(of: 0) else { return true }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: key[(separator + 1)...]), as: UTF8.self)
        return inForce[name, default: []].allSatisfy { $0.isStale($0.reading(counter.state, staleAt: counter.staleAt), at: now) }
    }

    private static func graceIsOver(_ value: UnsafeRawBufferPointer, now: Timestamp) throws -> Bool {
        if case .rotated(_, let graceUntil) = try StoredKey.decode(value) { return graceUntil <= now }
        return false
    }
}
