import TollgateLMDB

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
                let stored = try txn.withValue(in: tables.counters, forKey: counter.tableKey) { try StoredCounter.decode($0) }
                guard let stored,
                      let refunded = counter.limit.refund(counter.limit.reading(stored.state, staleAt: stored.staleAt), charged: counter.charged, cost: decision.cost, at: now)
                else { continue }
                try txn.put(StoredCounter(state: refunded, staleAt: stored.staleAt).encoded(), forKey: counter.tableKey, in: tables.counters)
            }
            if receipt.chargedCredits, let (hash, loaded, lastRefill) = try loadKey(txn, id: receipt.keyID), loaded.credits != nil {
                var key = loaded
                key.credits = key.credits.map { $0.addingReportingOverflow(decision.cost).overflow ? .max : $0 + decision.cost }
                try txn.put(StoredKey.primary(key, lastRefillPeriod: lastRefill).encoded(), forKey: hash, in: tables.keys)
            }
            try DailyUsage.update(txn, tables.usage, keyID: receipt.keyID, day: Self.day(of: decision.at)) { usage in
                usage.consumed = usage.consumed >= decision.cost ? usage.consumed - decision.cost : 0
            }
        }
    }

    /// The latest instant a refund can still matter: the end of the decision's UTC day (its usage
    /// ledger entry) or the last `staleAt` among the counters it charged, whichever is later.
    static func refundableUntil(day: Int64, staleAts: some Sequence<Timestamp>) -> Timestamp {
        let (next, dayOverflow) = day.addingReportingOverflow(1)
        let (dayEnd, overflow) = next.multipliedReportingOverflow(by: 86_400_000_000)
        let endOfDay = Timestamp(microseconds: dayOverflow || overflow ? .max : dayEnd)
        return staleAts.reduce(endOfDay, max)
    }
}
