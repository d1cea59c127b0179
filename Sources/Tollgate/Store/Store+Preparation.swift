import TollgateLMDB

// What happens before and after a decision's write transaction: parsing and hashing, the
// read-only answer for a key refused recently (the denial memo), and counting denials.

extension Store {
    enum Preparation {
        case decided(Decision)
        case needsWrite(PreparedRequest)
    }

    /// Everything before the write lock: parse (malformed keys cost nothing more), hash, and —
    /// for a key that was refused recently — a read-only evaluation that answers without writing
    /// while the key stays refused.
    func prepare(_ request: AuthorizationRequest) throws(TollgateError) -> Preparation {
        try ensureWritable()
        try Validation.additionalLimits(request.additionalLimits)
        if let budget = request.failureBudget { try Self.validateKeyless(budget.limits) }
        let now = now(request.at)
        if let rejection = keyFormat.parse(request.key) {
            return .decided(.rejected(.malformedKey, cost: request.cost, at: now, rejection: rejection))
        }
        let prepared = PreparedRequest(request: request, hash: hasher.hash(request.key), now: now)
        if deniedRecently.isDenied(prepared.hash, at: now) {
            let decision = try read("authorize") { txn in
                if let budget = request.failureBudget, let refusal = try refusalBeforeLookup(txn, budget, at: now) { return refusal }
                return try plan(txn, prepared, consume: false).decision
            }
            if !decision.isAllowed {
                noteOutcome(decision, prepared)
                return .decided(decision)
            }
        }
        return .needsWrite(prepared)
    }

    /// After a decision: remember refusals (for the read-only path) and count denials.
    func noteOutcome(_ decision: Decision, _ prepared: PreparedRequest) {
        // The client's refusal, not the key's: nothing to remember about the key.
        guard !decision.refusedBeforeLookup else { return }
        switch decision.outcome {
        case .rateLimited, .creditsExhausted:
            if let key = decision.key { pendingDenials.record(keyID: key.id, day: decision.at.daysSinceEpoch) }
            if let retryAfter = decision.retryAfter, retryAfter > 0 {
                deniedRecently.remember(prepared.hash, until: decision.at.adding(microseconds: retryAfter))
            }
        case .allowed:
            break
        default:
            if let key = decision.key { pendingDenials.record(keyID: key.id, day: decision.at.daysSinceEpoch) }
        }
    }
}
