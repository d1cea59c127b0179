import TollgateLMDB

// The decision inside LMDB: ``DecisionProcedure`` over ``LMDBDecisionStorage``, then the puts,
// all in the caller's transaction (a group-commit batch's, or a synchronous call's own).

extension Store {
    /// The decision for `prepared`, from `txn`'s state: for `authorize` (then applied in a write
    /// transaction) and `peek` (read-only, `consume: false`).
    func plan<T: ReadableTransaction & ~Copyable>(
        _ txn: borrowing T, _ prepared: PreparedRequest, consume: Bool = true
    ) throws -> DecisionPlan<LMDBDecisionStorage.Writes> {
        try DecisionProcedure.plan(LMDBDecisionStorage(txn, self), prepared, consume: consume, lastUsedResolution: lastUsedResolution)
    }

    /// Plans and, when allowed, applies a decision in one write transaction.
    func decide(_ txn: borrowing WriteTransaction, _ prepared: PreparedRequest) throws -> Decision {
        if let budget = prepared.request.failureBudget, let refusal = try refusalBeforeLookup(txn, budget, at: prepared.now) {
            return refusal
        }
        let plan = try plan(txn, prepared)
        if let writes = plan.writes { try apply(writes, txn) }
        if let budget = prepared.request.failureBudget { try countFailedVerification(txn, budget, plan.decision) }
        return plan.decision
    }
}
