import TollgateLMDB

/// A client's budget of failed key verifications (unknown, revoked, disabled or expired keys),
/// kept in the store's counters like any keyless limit (``Store/throttle(_:subjects:cost:at:timeout:)``
/// with the same limits and subjects reads and spends the same counters).
///
/// Given to ``AuthorizationRequest/failureBudget``, it is checked before the key is looked up and
/// a failure is counted in the same write transaction as the lookup. Decisions are serialized by
/// the writer, so every lookup sees every failure before it: however many guesses arrive at once,
/// at most the budget's quantity are looked up, and a valid key consumes nothing of it. The
/// counters are in the store, so a client refused by one process is refused by every process on
/// the store, and after a restart. A malformed key is answered before any transaction and so is
/// not counted here: count it with `throttle` (the Hummingbird middleware does).
public struct FailureBudget: Sendable, Hashable {
    /// Keyless limits: by a caller-supplied subject (`by=ip`) or global.
    public var limits: [Limit]
    public var subjects: [String: String]

    public init(limits: [Limit], subjects: [String: String]) {
        self.limits = limits
        self.subjects = subjects
    }
}

extension Store {
    /// Checks and consumes `limits` for a request that has no key — anonymous traffic per client
    /// IP, or failed key verifications per IP (brute-force protection) — in one write
    /// transaction, all or nothing, through the same group commit as ``authorize(_:)``.
    ///
    /// Every limit must count by a caller-supplied subject (`by=ip`) or globally; `by=key` and
    /// `by=owner` need a key and are refused with ``TollgateError/Code/invalidArgument``. The
    /// decision's outcome is `allowed` or `rateLimited`; its counters are the call site's own
    /// (a tier limit of the same name is another counter). Keyless decisions are not refundable
    /// and do not appear in any key's usage.
    public func throttle(
        _ limits: [Limit], subjects: [String: String], cost: UInt64 = 1, at: Timestamp? = nil, timeout: Duration? = nil
    ) async throws(TollgateError) -> Decision {
        try ensureWritable()
        try Self.validateKeyless(limits)
        let now = now(at)
        return try await submitDecision("throttle", timeout: timeout) { txn in
            try self.decideKeyless(txn, limits, subjects: subjects, cost: cost, at: now)
        }
    }

    /// The synchronous ``throttle(_:subjects:cost:at:)``: its own write transaction on the calling thread.
    public func throttle(
        synchronously limits: [Limit], subjects: [String: String], cost: UInt64 = 1, at: Timestamp? = nil
    ) throws(TollgateError) -> Decision {
        try ensureWritable()
        try Self.validateKeyless(limits)
        let now = now(at)
        return try write("throttle", as: .decision) { txn in try decideKeyless(txn, limits, subjects: subjects, cost: cost, at: now) }
    }

    /// The decision ``throttle(_:subjects:cost:at:)`` would take now, from a read snapshot:
    /// consumes nothing and takes no write lock (e.g. to refuse a client that is over its
    /// failed-verification budget before doing any work for it).
    public func peekThrottle(
        _ limits: [Limit], subjects: [String: String], cost: UInt64 = 1, at: Timestamp? = nil
    ) throws(TollgateError) -> Decision {
        try Self.validateKeyless(limits)
        let now = now(at)
        return try read("peek throttle") { txn in try planKeyless(txn, limits, subjects: subjects, cost: cost, at: now, consume: false).decision }
    }

    /// The refusal of a request whose client's failure budget has no room for one more failure.
    func refusalBeforeLookup<T: ReadableTransaction & ~Copyable>(
        _ txn: borrowing T, _ budget: FailureBudget, at now: Timestamp
    ) throws -> Decision? {
        var decision = try planKeyless(txn, budget.limits, subjects: budget.subjects, cost: 1, at: now, consume: false).decision
        guard !decision.isAllowed else { return nil }
        decision.refusedBeforeLookup = true
        return decision
    }

    /// Counts a failed verification against the budget, in the decision's transaction.
    func countFailedVerification(_ txn: borrowing WriteTransaction, _ budget: FailureBudget, _ decision: Decision) throws {
        switch decision.outcome {
        case .unknownKey, .revoked, .disabled, .expired, .malformedKey:
            _ = try decideKeyless(txn, budget.limits, subjects: budget.subjects, cost: 1, at: decision.at)
        case .allowed, .rateLimited, .creditsExhausted, .forbidden:
            break
        }
    }

    static func validateKeyless(_ limits: [Limit]) throws(TollgateError) {
        try Validation.additionalLimits(limits)
        for limit in limits {
            switch limit.subject {
            case .key, .owner:
                throw TollgateError(.invalidArgument, "limit \(limit.name) counts by key or owner, which needs a key; a keyless limit counts by a subject or globally")
            case .custom, .global: break
            }
        }
    }

    private func decideKeyless(
        _ txn: borrowing WriteTransaction, _ limits: [Limit], subjects: [String: String], cost: UInt64, at now: Timestamp
    ) throws -> Decision {
        let plan = try planKeyless(txn, limits, subjects: subjects, cost: cost, at: now, consume: true)
        if let writes = plan.writes { try apply(writes, txn) }
        return plan.decision
    }

    private func planKeyless<T: ReadableTransaction & ~Copyable>(
        _ txn: borrowing T, _ limits: [Limit], subjects: [String: String], cost: UInt64, at now: Timestamp, consume: Bool
    ) throws -> DecisionPlan<LMDBDecisionStorage.Writes> {
        try DecisionProcedure.planKeyless(LMDBDecisionStorage(txn, self), limits, subjects: subjects, cost: cost, at: now, consume: consume)
    }
}
