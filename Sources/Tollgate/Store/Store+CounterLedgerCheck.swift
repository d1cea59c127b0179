import TollgateLMDB

/// A key's counter and its day in the usage ledger that should agree and do not.
///
/// Both are written in the transaction that admits a request, so on a sound store they agree
/// where they cover the same span: a calendar-day limit (or a one-day fixed window) counts
/// exactly the day's `consumed`, a fixed window inside one day never more. Torn or reordered
/// writes in periodic mode (a power loss on a file system that does not keep write order) can
/// leave one of them behind.
public struct CounterLedgerDisagreement: Sendable, Hashable, CustomStringConvertible {
    public var keyID: String
    public var limit: String
    /// Days since 1970-01-01 (UTC).
    public var day: Int64
    public var counter: UInt64
    public var ledger: UInt64
    /// The counter spans the whole day (it must equal the ledger), not just part of it (it must
    /// not exceed the ledger).
    public var coversWholeDay: Bool

    public var description: String {
        let date = Timestamp.isoDate(day: day)
        return coversWholeDay
            ? "counter key:\(keyID)/\(limit) counts \(counter) for \(date), the usage ledger \(ledger)"
            : "counter key:\(keyID)/\(limit) counts \(counter) in a window of \(date), more than the usage ledger's \(ledger) for the whole day"
    }
}

/// What `repairCounterLedgerDisagreements` changed, and which side it trusted.
public struct CounterLedgerRepair: Sendable, Hashable, CustomStringConvertible {
    public enum Trusted: String, Sendable, Hashable { case counter, ledger = "usage ledger" }
    public var disagreement: CounterLedgerDisagreement
    public var trusted: Trusted

    public var description: String {
        let d = disagreement
        return switch trusted {
        case .ledger: "counter key:\(d.keyID)/\(d.limit) for \(Timestamp.isoDate(day: d.day)): \(d.counter) → \(d.ledger) (trusted the usage ledger)"
        case .counter: "usage ledger of \(d.keyID) for \(Timestamp.isoDate(day: d.day)): consumed \(d.ledger) → \(d.counter) (trusted counter \(d.limit))"
        }
    }
}

extension Store {
    /// Every disagreement between a key's window counter and the usage ledger. Counters whose
    /// limit is no longer in force, or which span more than one UTC day, are not comparable and
    /// skipped; so is a counter below the ledger on a day the audit log shows a tier edit, a
    /// tier change or a counter reset (a limit added at noon starts counting at noon).
    /// Undecodable records are left to the rest of `check`.
    func counterLedgerDisagreements(_ txn: borrowing some ReadableTransaction & ~Copyable) throws -> [CounterLedgerDisagreement] {
        let policyKinds: Set<AuditEvent.Kind> = [.tierSet, .tierRemoved, .keyTierChanged, .countersReset, .keyImported]
        var policyDays = Set<Int64>()
        try txn.forEach(in: tables.audit) { _, value in
            if let event = try? AuditEvent.decode(value), policyKinds.contains(event.kind) { policyDays.insert(event.at.daysSinceEpoch) }
            return .continue
        }
        var limitsByKey: [String: [Limit]] = [:]
        var found: [CounterLedgerDisagreement] = []
        let dayLength = PeriodScheme.microsecondsPerDay
        try txn.forEach(in: tables.counters) { key, value in
            guard let (subject, limitName) = try? CounterSubject.parse(key), case .key(let keyID) = subject,
                  let counter = try? StoredCounter.decode(value), case .window(let start, let count) = counter.state
            else { return .continue }
            if limitsByKey[keyID] == nil {
                let limits = (try? loadKey(txn, id: keyID)).flatMap { $0 }.flatMap { stored in
                    (try? loadTier(txn, stored.key.tier)).flatMap { $0 }?.effectiveLimits(overrides: stored.key.limitOverrides)
                }
                limitsByKey[keyID] = limits ?? []
            }
            guard let limit = limitsByKey[keyID]?.first(where: { $0.name == limitName }),
                  limit.strategy == .calendarDay || limit.strategy == .fixedWindow else { return .continue }
            let length = limit.windowLength(at: Timestamp(microseconds: start))
            let day = floorDivision(start, dayLength).quotient
            let dayStart = day.multipliedReportingOverflow(by: dayLength)
            let end = start.addingReportingOverflow(length)
            guard length > 0, !dayStart.overflow, !end.overflow, end.partialValue <= dayStart.partialValue &+ dayLength else { return .continue }
            let wholeDay = start == dayStart.partialValue && length == dayLength
            let ledger = try txn.withValue(in: tables.usage, forKey: DailyUsage.tableKey(keyID: keyID, day: day)) {
                try? DailyUsage.decode($0, day: day)
            }
            // A damaged ledger record is `check`'s finding already; an absent one counts zero.
            let consumed: UInt64
            switch ledger {
            case .none: consumed = 0
            case .some(.none): return .continue
            case .some(.some(let usage)): consumed = usage.consumed
            }
            if count > consumed || (wholeDay && count < consumed && !policyDays.contains(day)) {
                found.append(CounterLedgerDisagreement(keyID: keyID, limit: limitName, day: day, counter: count, ledger: consumed, coversWholeDay: wholeDay))
            }
            return .continue
        }
        return found
    }

    /// Makes every counter agree with the usage ledger again (`tollgate check --repair`). Both
    /// record the same admissions and a lost write can only leave one of them short, never
    /// invent admissions, so the higher one is trusted and the lower one raised to it: a counter
    /// below the ledger is set to the ledger, a ledger below the counter gets the counter's
    /// count as `consumed`. Never lowers either, so a repair cannot admit more than was counted.
    public func repairCounterLedgerDisagreements() throws(TollgateError) -> [CounterLedgerRepair] {
        try write("repair counters and the usage ledger") { txn in
            var repairs: [CounterLedgerRepair] = []
            for disagreement in try counterLedgerDisagreements(txn) {
                if disagreement.counter < disagreement.ledger {
                    let key = CounterSubject.key(id: disagreement.keyID).tableKey(limit: disagreement.limit)
                    guard var stored = try txn.withValue(in: tables.counters, forKey: key, { try StoredCounter.decode($0) }),
                          case .window(let start, _) = stored.state else { continue }
                    stored.state = .window(start: start, count: disagreement.ledger)
                    try txn.put(stored.encoded(), forKey: key, in: tables.counters)
                    repairs.append(CounterLedgerRepair(disagreement: disagreement, trusted: .ledger))
                } else {
                    try DailyUsage.update(txn, tables.usage, keyID: disagreement.keyID, day: disagreement.day) { usage in
                        usage.consumed = max(usage.consumed, disagreement.counter)
                    }
                    repairs.append(CounterLedgerRepair(disagreement: disagreement, trusted: .counter))
                }
            }
            return repairs
        }
    }
}
