/// The decision itself, free of storage: states, request and time in; a ``Decision`` and the
/// effects to write out. Every backend runs these functions (or, where the state lives behind a
/// network, a faithful port of them, held equal by the conformance suite) — see
/// Docs/architecture.md, "One decision, any store".
///
/// Nothing here reads or writes: ``DecisionProcedure`` asks a ``DecisionStorage`` for the states
/// and hands them in.
enum DecisionCore {
    /// The refusal a key earns before any limit is looked at: its state, its expiry, the scope.
    static func keyRefusal(_ key: KeyInfo, scope: String?, at now: Timestamp) -> Decision.Outcome? {
        switch key.state {
        case .revoked: return .revoked
        case .disabled: return .disabled
        case .active: break
        }
        if key.isExpired(at: now) { return .expired }
        if let scope, !key.grants(scope) { return .forbidden }
        return nil
    }

    /// The name under which a call site's limit (``AuthorizationRequest/additionalLimits``, a
    /// throttle) keeps its counter: `@` cannot begin a tier limit's name, so the two never share one.
    static func callSiteCounterName(_ limit: Limit) -> String { "@" + limit.name }

    /// Whose counter a limit of `key`'s tier counts in.
    static func subject(_ subject: LimitSubject, key: KeyInfo, subjects: [String: String]) throws(TollgateError) -> CounterSubject {
        switch subject {
        case .key: return .key(id: key.id)
        case .owner: return .owner(key.owner)
        case .global: return .global
        case .custom(let name):
            return try customSubject(name, subjects: subjects, what: "tier \(key.tier)")
        }
    }

    /// A caller-supplied subject's counter, checked: present, 1 to ``Bounds/subjectValue`` bytes,
    /// no control characters.
    static func customSubject(_ name: String, subjects: [String: String], what: String) throws(TollgateError) -> CounterSubject {
        guard let value = subjects[name] else {
            throw TollgateError(.missingSubject, "\(what) limits by \(name), but the request carries no \(name)")
        }
        guard !value.isEmpty, value.utf8.count <= Bounds.subjectValue, !Validation.containsControlCharacter(value.utf8) else {
            throw TollgateError(.invalidArgument, "the \(name) subject must be 1 to \(Bounds.subjectValue) bytes without control characters")
        }
        return .custom(name: name, value: value)
    }

    // MARK: Limits

    /// One limit as the decision sees it: which counter, and its state as read (`nil`: none yet).
    struct CounterReading {
        var id: CounterID
        var limit: Limit
        var state: CounterState?
    }

    /// A counter an allowed decision changes: its new state, and how long the state matters
    /// (``LimitCheck/resetAfter``) — a backend turns that into its own expiry (LMDB: `staleAt`).
    struct CounterEffect: Sendable, Hashable {
        var id: CounterID
        /// Its position among the decision's readings: a backend finds the address it read the
        /// counter at (``DecisionStorage/CounterAddress``) without mapping the id again.
        var reading: Int
        var limit: Limit
        var state: CounterState
        var resetAfter: Int64
    }

    /// Every limit's check against its counter, and the new states of those that allow.
    struct LimitEvaluation {
        var statuses: [Decision.LimitStatus] = []
        var effects: [CounterEffect] = []
        var allAllow = true
    }

    /// Checks `cost` against every counter.
    static func evaluate(_ readings: [CounterReading], cost: UInt64, at now: Timestamp) -> LimitEvaluation {
        var evaluation = LimitEvaluation()
        evaluation.statuses.reserveCapacity(readings.count)
        evaluation.effects.reserveCapacity(readings.count)
        // Most limits of a decision share a subject (the key): describe it once, not per limit
        // (each description is a string built on the heap).
        var described: (subject: CounterSubject, text: String)? = nil
        for (index, reading) in readings.enumerated() {
            let limit = reading.limit
            if described?.subject != reading.id.subject { described = (reading.id.subject, reading.id.subject.description) }
            let (check, newState) = limit.evaluate(reading.state, cost: cost, at: now)
            evaluation.allAllow = evaluation.allAllow && check.allowed
            let policy = limit.rateLimitPolicy(at: now)
            evaluation.statuses.append(Decision.LimitStatus(
                name: limit.name, strategy: limit.strategy, quantity: limit.quantity,
                windowMicroseconds: limit.windowLength(at: now), subject: described!.text,
                remaining: check.remaining, resetAfter: check.resetAfter, retryAfter: check.retryAfter,
                allowed: check.allowed, neverFits: check.neverFits,
                policyQuantity: policy.quantity, policyWindowMicroseconds: policy.windowMicroseconds))
            if check.allowed {
                evaluation.effects.append(CounterEffect(id: reading.id, reading: index, limit: limit, state: newState, resetAfter: max(check.resetAfter, 0)))
            }
        }
        return evaluation
    }

    /// Statuses as they stand when the request's cost was not taken: limits that would have
    /// passed report what they had before it.
    static func nothingConsumed(_ limits: [Decision.LimitStatus], cost: UInt64) -> [Decision.LimitStatus] {
        limits.map { status in
            guard status.allowed else { return status }
            var status = status
            status.remaining = status.remaining.addingReportingOverflow(cost).overflow ? .max : status.remaining + cost
            return status
        }
    }

    // MARK: Keyed decisions

    /// A key's credits as state, like a counter's: the balance (`nil`: not metered) and the refill
    /// period last applied.
    struct Credits: Equatable {
        var balance: UInt64?
        var lastRefillPeriod: Int64
    }

    /// What an allowed, consumed decision changes besides its counters.
    struct KeyEffects {
        /// The credits after the request.
        var credits: Credits
        /// Whether they changed (a debit or a refill): only then must they be written.
        var creditsChanged: Bool
        /// The new last-use time, when the stored one is older than the store's resolution.
        var lastUsedAt: Timestamp?
        /// The usage ledger's entry for `usageDay` (UTC) gains one allowed request of `cost`.
        var usageDay: Int64
        var cost: UInt64
    }

    /// Everything an allowed decision writes: counters, credits, last use, usage.
    struct Effects {
        var counters: [CounterEffect]
        var key: KeyEffects
    }

    /// The decision for a key that passed ``keyRefusal(_:scope:at:)``, given its limits'
    /// evaluation and its credits; with `consume`, the effects of an allowed one.
    ///
    /// `remaining` and `creditsRemaining` count what is left after the request when it is
    /// allowed and consumed; when it is refused, or only peeked at, they count what is left now.
    static func decide(
        key: KeyInfo, credits stored: Credits, limits evaluation: LimitEvaluation, cost: UInt64, at now: Timestamp,
        consume: Bool, lastUsedResolution: Int64
    ) -> (decision: Decision, effects: Effects?) {
        var credits = stored
        var refilled = key
        refilled.credits = stored.balance
        refilled.applyRefill(at: now, lastRefill: &credits.lastRefillPeriod)
        credits.balance = refilled.credits
        var decision = Decision(
            outcome: .allowed, key: Decision.KeyIdentity(key), limits: evaluation.statuses, creditsRemaining: credits.balance,
            cost: cost, at: now, keyRejection: nil, receipt: nil)
        guard evaluation.allAllow else {
            decision.outcome = .rateLimited
            decision.limits = nothingConsumed(decision.limits, cost: cost)
            return (decision, nil)
        }
        if let balance = credits.balance {
            guard balance >= cost else {
                decision.outcome = .creditsExhausted
                decision.limits = nothingConsumed(decision.limits, cost: cost)
                return (decision, nil)
            }
            credits.balance = balance - cost
        }
        guard consume else {
            decision.limits = nothingConsumed(decision.limits, cost: cost)
            return (decision, nil)
        }
        decision.creditsRemaining = credits.balance
        let day = now.daysSinceEpoch
        decision.receipt = Receipt(
            id: .next(), keyID: key.id,
            counters: evaluation.effects,
            chargedCredits: credits.balance != nil && cost > 0,
            refundableUntil: refundableUntil(day: day, windowEnds: evaluation.effects.lazy.map { now.adding(microseconds: $0.resetAfter) }))
        let lastUsedIsStale = key.lastUsedAt.map { now.microseconds(since: $0) >= lastUsedResolution } ?? true
        let keyEffects = KeyEffects(
            credits: credits, creditsChanged: credits != stored, lastUsedAt: lastUsedIsStale ? now : nil, usageDay: day, cost: cost)
        return (decision, Effects(counters: evaluation.effects, key: keyEffects))
    }

    /// The decision of a request without a key (``Store/throttle(_:subjects:cost:at:timeout:)``):
    /// allowed when every limit allows; with `consume`, the counters to write.
    static func decideKeyless(
        limits evaluation: LimitEvaluation, cost: UInt64, at now: Timestamp, consume: Bool
    ) -> (decision: Decision, counters: [CounterEffect]) {
        var decision = Decision(
            outcome: evaluation.allAllow ? .allowed : .rateLimited, key: nil, limits: evaluation.statuses,
            creditsRemaining: nil, cost: cost, at: now, keyRejection: nil, receipt: nil)
        guard evaluation.allAllow, consume else {
            decision.limits = nothingConsumed(decision.limits, cost: cost)
            return (decision, [])
        }
        return (decision, evaluation.effects)
    }

    // MARK: Refunds

    /// The latest instant a refund can still matter: the end of the decision's UTC day (its usage
    /// ledger entry) or the end of the last window it charged, whichever is later.
    static func refundableUntil(day: Int64, windowEnds: some Sequence<Timestamp>) -> Timestamp {
        let (next, dayOverflow) = day.addingReportingOverflow(1)
        let (dayEnd, overflow) = next.multipliedReportingOverflow(by: 86_400_000_000)
        let endOfDay = Timestamp(microseconds: dayOverflow || overflow ? .max : dayEnd)
        return windowEnds.reduce(endOfDay, max)
    }
}
