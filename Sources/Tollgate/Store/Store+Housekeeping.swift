import TollgateLMDB

/// What one ``Store/sweep(at:batchSize:maxBatches:)`` removed.
public struct SweepResult: Sendable, Hashable {
    /// Counters whose windows can no longer affect a decision.
    public var counters = 0
    /// Old secrets whose rotation grace period is over.
    public var rotatedKeys = 0
    /// Write transactions used (each at most `batchSize` deletions).
    public var batches = 0
    /// Whether the sweep reached the end of both tables (false: `maxBatches` stopped it).
    public var finished = true
}

extension Store {
    /// Deletes stale counters and expired rotation-grace records in bounded batches — one short
    /// write transaction per `batchSize` deletions, never one long one — so writers are never
    /// held up for long. A counter is stale once its limit would treat it as fresh (its
    /// `staleAt` has passed); deleting it changes no decision.
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
        for (table, isCounters) in [(tables.counters, true), (tables.keys, false)] {
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
                            if try isCounters ? Self.counterIsStale(current.value, now: now) : Self.graceIsOver(current.value, now: now) {
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
                if isCounters { result.counters += removed } else { result.rotatedKeys += removed }
                progress(result)
                guard let next else { break }
                resumeAt = next
            }
        }
        return result
    }

    private static func counterIsStale(_ value: UnsafeRawBufferPointer, now: Timestamp) throws -> Bool {
        try StoredCounter.decode(value).staleAt <= now
    }

    private static func graceIsOver(_ value: UnsafeRawBufferPointer, now: Timestamp) throws -> Bool {
        if case .rotated(_, let graceUntil) = try StoredKey.decode(value) { return graceUntil <= now }
        return false
    }
}
