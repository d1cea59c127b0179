import TollgateLMDB

// Changing counters outside a decision: giving back what a decision consumed, and an admin's reset.

extension Store {
    /// Gives back what an allowed decision consumed — its cost on every counter and the credits it
    /// debited — after the upstream work failed.
    ///
    /// - Only what is still in force: a window strategy gives the cost back only to the window it
    ///   was charged in, while that window still counts; a bucket only what its refill has not
    ///   repaid since. A counter now of another strategy (a tier was edited) is left alone.
    /// - At most once: the decision's id is recorded in the store, so refunding it again — in this
    ///   process or another — gives nothing back. The record is swept once the decision's
    ///   ``Receipt/refundableUntil`` has passed; after that instant a refund gives nothing back
    ///   anyway (credits and usage included).
    /// - Refunding a decision that was not allowed, or of cost 0, does nothing.
    public func refund(_ decision: Decision, at: Timestamp? = nil) throws(TollgateError) {
        guard decision.isAllowed, let receipt = decision.receipt, decision.cost > 0 else { return }
        let now = now(at)
        guard now < receipt.refundableUntil else { return }
        try write("refund", as: .decision) { txn in
            guard try !txn.contains(receipt.id.bytes, in: tables.refunds) else { return }
            try txn.put(RefundRecord(until: receipt.refundableUntil).encoded(), forKey: receipt.id.bytes, in: tables.refunds)
            for counter in receipt.counters {
                let tableKey = counter.id.tableKey
                let stored = try txn.withValue(in: tables.counters, forKey: tableKey) { try StoredCounter.decode($0) }
                guard let stored,
                      let refunded = counter.limit.refund(counter.limit.reading(stored.state, staleAt: stored.staleAt), charged: counter.state, cost: decision.cost, at: now)
                else { continue }
                try txn.put(StoredCounter(state: refunded, staleAt: stored.staleAt).encoded(), forKey: tableKey, in: tables.counters)
            }
            if receipt.chargedCredits, let (hash, loaded, lastRefill) = try loadKey(txn, id: receipt.keyID), loaded.credits != nil {
                var key = loaded
                key.credits = key.credits.map { $0.addingReportingOverflow(decision.cost).overflow ? .max : $0 + decision.cost }
                try txn.put(StoredKey.primary(key, lastRefillPeriod: lastRefill).encoded(), forKey: hash, in: tables.keys)
            }
            try DailyUsage.update(txn, tables.usage, keyID: receipt.keyID, day: decision.at.daysSinceEpoch) { usage in
                usage.consumed = usage.consumed >= decision.cost ? usage.consumed - decision.cost : 0
            }
        }
    }

    /// Whose counters ``resetCounters(_:actor:)`` clears.
    public enum CounterOwner: Sendable, Hashable {
        case key(id: String)
        case owner(String)
        /// A caller-supplied subject, e.g. `.subject(name: "ip", value: "203.0.113.7")`.
        case subject(name: String, value: String)
        case global
    }

    /// Deletes every counter of one subject (an admin's "reset this key's limits"). Returns how many.
    @discardableResult
    public func resetCounters(_ owner: CounterOwner, actor: String? = nil) throws(TollgateError) -> Int {
        let subject: CounterSubject
        switch owner {
        case .key(let id): subject = .key(id: id)
        case .owner(let name): subject = .owner(name)
        case .subject(let name, let value): subject = .custom(name: name, value: value)
        case .global: subject = .global
        }
        let prefix = subject.prefix
        let now = clock.now()
        return try write("reset counters") { txn in
            var removed = 0
            try txn.withCursor(over: tables.counters) { cursor in
                var entry = try cursor.seek(atLeast: prefix)
                while let current = entry, current.key.starts(with: prefix) {
                    try txn.deleteCurrent(&cursor)
                    removed += 1
                    // After a delete, LMDB's "next" is the entry that followed the deleted one.
                    entry = try cursor.next()
                }
            }
            try audit(txn, .countersReset, actor: actor, subject: subject.description, detail: "\(removed) counter(s) removed", at: now)
            return removed
        }
    }
}
