import Dispatch
import Synchronization
import TollgateLMDB

/// One request to decide: the presented key, its cost, the scope it needs, the values of
/// caller-supplied subjects (`["ip": "203.0.113.7", "route": "GET /reports"]`), and limits of the
/// call site on top of the key's tier (a route's `10/second,by=ip`).
public struct AuthorizationRequest: Sendable, Hashable {
    public var key: String
    public var cost: UInt64
    public var scope: String?
    public var subjects: [String: String]
    /// Checked and consumed together with the tier's limits, all or nothing. Their counters are
    /// their own (a tier limit of the same name is another counter); call sites that use the
    /// same name and subject share one (a limit for a whole route group).
    public var additionalLimits: [Limit]
    /// The decision's time; `nil`: the store's clock.
    public var at: Timestamp?
    /// The client's budget of failed verifications, checked and counted in the decision's own
    /// transaction; `nil`: none.
    public var failureBudget: FailureBudget?

    public init(
        key: String, cost: UInt64 = 1, scope: String? = nil, subjects: [String: String] = [:],
        additionalLimits: [Limit] = [], at: Timestamp? = nil, failureBudget: FailureBudget? = nil
    ) {
        self.key = key
        self.cost = cost
        self.scope = scope
        self.subjects = subjects
        self.additionalLimits = additionalLimits
        self.at = at
        self.failureBudget = failureBudget
    }
}

extension Store {
    // MARK: Public entry points

    /// Verifies the key and checks and consumes every limit and the credits in one write
    /// transaction, all or nothing. Runs on the store's writer thread with group commit: concurrent
    /// callers share one transaction and, in durable mode, one sync. Returns only after the
    /// decision is committed (and, in durable mode, synced).
    public func authorize(
        key: String, cost: UInt64 = 1, scope: String? = nil, subjects: [String: String] = [:], at: Timestamp? = nil
    ) async throws(TollgateError) -> Decision {
        try await authorize(AuthorizationRequest(key: key, cost: cost, scope: scope, subjects: subjects, at: at))
    }

    /// ``authorize(key:cost:scope:subjects:at:)`` for a prepared request.
    ///
    /// With a `timeout`, a decision not committed in time answers ``TollgateError/Code/timedOut``
    /// (what a server does then — refuse or let through — is its choice); as with cancellation,
    /// a request still queued is dropped, one already in the writer's transaction may still count.
    public func authorize(_ request: AuthorizationRequest, timeout: Duration? = nil) async throws(TollgateError) -> Decision {
        let prepared: PreparedRequest
        switch try prepare(request) {
        case .decided(let decision): return decision
        case .needsWrite(let value): prepared = value
        }
        let decision = try await submitDecision("authorize", timeout: timeout) { txn in try self.decide(txn, prepared) }
        noteOutcome(decision, prepared)
        return decision
    }

    /// Runs `body` on the group-commit writer and waits for its transaction to commit.
    ///
    /// Cancelling the calling task answers at once with ``TollgateError/Code/cancelled``, and a
    /// passed `timeout` with ``TollgateError/Code/timedOut``. A request still queued is then
    /// dropped; one already in the writer's transaction may still be committed — it can only have
    /// consumed quota, never admitted anything the caller used. The timeout is a timer on a
    /// Dispatch queue rather than a racing task: no extra task per request.
    func submitDecision(
        _ operation: String, timeout: Duration? = nil,
        _ body: @escaping @Sendable (borrowing WriteTransaction) throws -> Decision
    ) async throws(TollgateError) -> Decision {
        let job = DecisionJob(operation: operation, body)
        if let timeout {
            let nanoseconds = Int(max(0, timeout.saturatingNanoseconds))
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [weak job] in
                job?.answer(.failure(TollgateError(.timedOut, "\(operation) was not decided within \(timeout)")))
            }
        }
        let result: Result<Decision, TollgateError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard job.attach(continuation) else { return }
                do throws(TollgateError) { try writer.submit(job) } catch { job.answer(.failure(error)) }
            }
        } onCancel: {
            job.answer(.failure(TollgateError(.cancelled, "\(operation) was cancelled before its transaction committed")))
        }
        return try result.get()
    }

    /// The synchronous ``authorize(key:cost:scope:subjects:at:)``, for callers without
    /// concurrency: runs its own write transaction on the calling thread (one commit per call;
    /// concurrent callers get group commit from the async variant).
    public func authorize(
        key: String, cost: UInt64 = 1, scope: String? = nil, subjects: [String: String] = [:], at: Timestamp? = nil
    ) throws(TollgateError) -> Decision {
        try authorize(synchronously: AuthorizationRequest(key: key, cost: cost, scope: scope, subjects: subjects, at: at))
    }

    /// The synchronous ``authorize(_:)`` for a prepared request.
    public func authorize(synchronously request: AuthorizationRequest) throws(TollgateError) -> Decision {
        let prepared: PreparedRequest
        switch try prepare(request) {
        case .decided(let decision): return decision
        case .needsWrite(let value): prepared = value
        }
        let decision = try write("authorize", as: .decision) { txn in try decide(txn, prepared) }
        noteOutcome(decision, prepared)
        return decision
    }

    /// The decision ``authorize(key:cost:scope:subjects:at:)`` would take now, without consuming
    /// anything or taking the write lock.
    public func peek(
        key: String, cost: UInt64 = 1, scope: String? = nil, subjects: [String: String] = [:], at: Timestamp? = nil
    ) throws(TollgateError) -> Decision {
        try peek(AuthorizationRequest(key: key, cost: cost, scope: scope, subjects: subjects, at: at))
    }

    /// ``peek(key:cost:scope:subjects:at:)`` for a prepared request.
    public func peek(_ request: AuthorizationRequest) throws(TollgateError) -> Decision {
        try Validation.additionalLimits(request.additionalLimits)
        let now = now(request.at)
        if let rejection = keyFormat.parse(request.key) {
            return .rejected(.malformedKey, cost: request.cost, at: now, rejection: rejection)
        }
        if let budget = request.failureBudget { try Self.validateKeyless(budget.limits) }
        let prepared = PreparedRequest(request: request, hash: hasher.hash(request.key), now: now)
        return try read("peek") { txn in
            if let budget = request.failureBudget, let refusal = try refusalBeforeLookup(txn, budget, at: now) { return refusal }
            return try plan(txn, prepared, consume: false).decision
        }
    }
}
