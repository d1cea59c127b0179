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
        let prepared: Prepared
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
            let nanoseconds = max(0, timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) { [weak job] in
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
        let prepared: Prepared
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
        let prepared = Prepared(request: request, hash: hasher.hash(request.key), now: now)
        return try read("peek") { txn in
            if let budget = request.failureBudget, let refusal = try refusalBeforeLookup(txn, budget, at: now) { return refusal }
            return try plan(txn, prepared, consume: false).decision
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

    // MARK: The decision

    /// A request that passed parsing: the key's hash and the decision's time.
    struct Prepared: Sendable {
        var request: AuthorizationRequest
        var hash: KeyHash
        var now: Timestamp
    }

    enum Preparation {
        case decided(Decision)
        case needsWrite(Prepared)
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
        let prepared = Prepared(request: request, hash: hasher.hash(request.key), now: now)
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
    func noteOutcome(_ decision: Decision, _ prepared: Prepared) {
        // The client's refusal, not the key's: nothing to remember about the key.
        guard !decision.refusedBeforeLookup else { return }
        switch decision.outcome {
        case .rateLimited, .creditsExhausted:
            if let key = decision.key { pendingDenials.record(keyID: key.id, day: Self.day(of: decision.at)) }
            if let retryAfter = decision.retryAfter, retryAfter > 0 {
                deniedRecently.remember(prepared.hash, until: decision.at.adding(microseconds: retryAfter))
            }
        case .allowed:
            break
        default:
            if let key = decision.key { pendingDenials.record(keyID: key.id, day: Self.day(of: decision.at)) }
        }
    }

    static func day(of time: Timestamp) -> Int64 { floorDivide(time.microseconds, 86_400_000_000) }

    /// The one decision procedure, for `authorize` (then applied in a write transaction) and `peek`
    /// (read-only): key record → state, expiry, scope → every limit → credits → all-or-nothing
    /// writes. The limiter arithmetic is the pure ``Limit/evaluate(_:cost:at:)``; this function is
    /// the seam where states are read and written.
    ///
    /// `remaining` and `creditsRemaining` count what is left after the request when it is
    /// allowed and consumed; when it is refused, or only peeked at, they count what is left now.
    func plan<T: ReadableTransaction & ~Copyable>(_ txn: borrowing T, _ prepared: Prepared, consume: Bool = true) throws -> Plan {
        let request = prepared.request
        let now = prepared.now
        let cost = request.cost

        // The key.
        let stored = try txn.withValue(in: tables.keys, forKey: prepared.hash.bytes) { bytes in
            try decodedKeys.value(for: prepared.hash, bytes: bytes) { try StoredKey.decode($0) }
        }
        guard let stored else {
            return Plan(decision: .rejected(.unknownKey, cost: cost, at: now))
        }
        var keyHash = prepared.hash.bytes
        var key: KeyInfo
        var lastRefill: Int64
        switch stored {
        case .primary(let info, let refill):
            key = info
            lastRefill = refill
        case .rotated(let id, let graceUntil):
            guard now < graceUntil, let current = try loadKey(txn, id: id) else {
                return Plan(decision: .rejected(.revoked, cost: cost, at: now))
            }
            (keyHash, key, lastRefill) = current
        }
        let identity = Decision.KeyIdentity(key)
        switch key.state {
        case .revoked: return Plan(decision: .rejected(.revoked, cost: cost, at: now, key: identity))
        case .disabled: return Plan(decision: .rejected(.disabled, cost: cost, at: now, key: identity))
        case .active: break
        }
        if key.isExpired(at: now) { return Plan(decision: .rejected(.expired, cost: cost, at: now, key: identity)) }
        if let scope = request.scope, !key.grants(scope) { return Plan(decision: .rejected(.forbidden, cost: cost, at: now, key: identity)) }

        // Every limit.
        guard let tier = try loadTier(txn, key.tier) else {
            throw TollgateError(.notFound, "key \(key.id) is on tier \(key.tier), which does not exist")
        }
        let limits = tier.effectiveLimits(overrides: key.limitOverrides)
        let evaluation = try evaluateLimits(
            txn, tierLimits: limits, additionalLimits: request.additionalLimits, cost: cost, at: now
        ) { (subject: LimitSubject) throws(TollgateError) in
            try Self.resolveSubject(subject, key: key, subjects: request.subjects)
        }
        let newStates = evaluation.newStates
        let allLimitsAllow = evaluation.allAllow
        let statuses = evaluation.statuses

        // Credits.
        let creditsBefore = key.credits
        key.applyRefill(at: now, lastRefill: &lastRefill)
        let refilled = key.credits != creditsBefore
        var decision = Decision(
            outcome: .allowed, key: identity, limits: statuses, creditsRemaining: key.credits, cost: cost, at: now,
            keyRejection: nil, receipt: nil)
        guard allLimitsAllow else {
            decision.outcome = .rateLimited
            decision.limits = Self.nothingConsumed(decision.limits, cost: cost)
            return Plan(decision: decision)
        }
        if let credits = key.credits {
            guard credits >= cost else {
                decision.outcome = .creditsExhausted
                decision.limits = Self.nothingConsumed(decision.limits, cost: cost)
                return Plan(decision: decision)
            }
            key.credits = credits - cost
            if consume { decision.creditsRemaining = key.credits }
        }
        guard consume else {
            decision.limits = Self.nothingConsumed(decision.limits, cost: cost)
            return Plan(decision: decision)
        }
        decision.receipt = Receipt(
            id: .next(), keyID: key.id,
            counters: newStates.map { Receipt.ConsumedCounter(tableKey: $0.tableKey, limit: $0.limit, charged: $0.counter.state) },
            chargedCredits: key.credits != nil && cost > 0,
            refundableUntil: Self.refundableUntil(day: Self.day(of: now), staleAts: newStates.lazy.map(\.counter.staleAt)))

        // All allowed: the new states, the key record (credits, last use) and the usage ledger,
        // for the caller to write at once in its transaction. Every record they depend on is
        // read and decoded here, before anything is written: `apply` then fails only in LMDB
        // (which dooms the whole transaction), never after writing half of one request of a
        // group-commit batch whose other requests commit.
        let day = Self.day(of: now)
        var usage = try DailyUsage.load(txn, tables.usage, keyID: key.id, day: day)
        usage.allowed &+= 1
        usage.consumed = usage.consumed.addingReportingOverflow(cost).overflow ? .max : usage.consumed + cost
        var writes = Writes(
            counters: newStates.map { ($0.tableKey, $0.counter) }, key: nil,
            usage: (DailyUsage.tableKey(keyID: key.id, day: day), usage))
        let lastUsedIsStale = key.lastUsedAt.map { now.microseconds(since: $0) >= lastUsedResolution } ?? true
        if lastUsedIsStale { key.lastUsedAt = now }
        if lastUsedIsStale || refilled || (creditsBefore != nil && cost > 0) {
            writes.key = (keyHash, StoredKey.primary(key, lastRefillPeriod: lastRefill))
        }
        return Plan(decision: decision, writes: writes)
    }

    /// The writes of an allowed decision: final records, nothing left to read or decode.
    struct Writes {
        var counters: [(tableKey: [UInt8], counter: StoredCounter)]
        var key: (hash: [UInt8], record: StoredKey)?
        var usage: (tableKey: [UInt8], record: DailyUsage)
    }

    /// A decision and, when it consumes anything, what to write.
    struct Plan {
        var decision: Decision
        var writes: Writes?
    }

    /// Writes an allowed decision's effects into `txn`: puts only, so it can fail only with an
    /// LMDB error, which dooms the whole transaction.
    func apply(_ writes: Writes, _ txn: borrowing WriteTransaction) throws(LMDBError) {
        for (tableKey, counter) in writes.counters {
            try txn.put(counter.encoded(), forKey: tableKey, in: tables.counters)
        }
        if let (hash, record) = writes.key {
            try txn.put(record.encoded(), forKey: hash, in: tables.keys)
        }
        try txn.put(writes.usage.record.encoded(), forKey: writes.usage.tableKey, in: tables.usage)
    }

    /// Plans and, when allowed, applies a decision in one write transaction.
    func decide(_ txn: borrowing WriteTransaction, _ prepared: Prepared) throws -> Decision {
        if let budget = prepared.request.failureBudget, let refusal = try refusalBeforeLookup(txn, budget, at: prepared.now) {
            return refusal
        }
        let plan = try plan(txn, prepared)
        if let writes = plan.writes { try apply(writes, txn) }
        if let budget = prepared.request.failureBudget { try countFailedVerification(txn, budget, plan.decision) }
        return plan.decision
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

    /// Every limit's check against its counter, and the counters' new states for those that allow.
    struct LimitEvaluation {
        var statuses: [Decision.LimitStatus] = []
        var newStates: [(tableKey: [UInt8], counter: StoredCounter, limit: Limit)] = []
        var allAllow = true
    }

    /// The name under which a call site's limit (``AuthorizationRequest/additionalLimits``, a
    /// throttle) keeps its counter: `@` cannot begin a tier limit's name, so the two never share one.
    static func callSiteCounterName(_ limit: Limit) -> String { "@" + limit.name }

    func evaluateLimits<T: ReadableTransaction & ~Copyable>(
        _ txn: borrowing T, tierLimits: [Limit], additionalLimits: [Limit], cost: UInt64, at now: Timestamp,
        subject resolve: (LimitSubject) throws(TollgateError) -> CounterSubject
    ) throws -> LimitEvaluation {
        var evaluation = LimitEvaluation()
        let count = tierLimits.count + additionalLimits.count
        evaluation.statuses.reserveCapacity(count)
        evaluation.newStates.reserveCapacity(count)
        func evaluate(_ limit: Limit, counterName: String) throws {
            let subject = try resolve(limit.subject)
            let tableKey = subject.tableKey(limit: counterName)
            let state = try txn.withValue(in: tables.counters, forKey: tableKey) { bytes in
                let stored = try StoredCounter.decode(bytes)
                return limit.reading(stored.state, staleAt: stored.staleAt)
            }
            let (check, newState) = limit.evaluate(state, cost: cost, at: now)
            evaluation.allAllow = evaluation.allAllow && check.allowed
            let policy = limit.rateLimitPolicy(at: now)
            evaluation.statuses.append(Decision.LimitStatus(
                name: limit.name, strategy: limit.strategy, quantity: limit.quantity,
                windowMicroseconds: limit.windowLength(at: now), subject: subject.description,
                remaining: check.remaining, resetAfter: check.resetAfter, retryAfter: check.retryAfter,
                allowed: check.allowed, neverFits: check.neverFits,
                policyQuantity: policy.quantity, policyWindowMicroseconds: policy.windowMicroseconds))
            if check.allowed {
                let stored = StoredCounter(state: newState, staleAt: now.adding(microseconds: max(check.resetAfter, 0)))
                evaluation.newStates.append((tableKey, stored, limit))
            }
        }
        for limit in tierLimits { try evaluate(limit, counterName: limit.name) }
        for limit in additionalLimits { try evaluate(limit, counterName: Self.callSiteCounterName(limit)) }
        return evaluation
    }

    static func resolveSubject(_ subject: LimitSubject, key: KeyInfo, subjects: [String: String]) throws(TollgateError) -> CounterSubject {
        switch subject {
        case .key: return .key(id: key.id)
        case .owner: return .owner(key.owner)
        case .global: return .global
        case .custom(let name):
            return try customSubject(name, subjects: subjects, what: "tier \(key.tier)")
        }
    }

    static func customSubject(_ name: String, subjects: [String: String], what: String) throws(TollgateError) -> CounterSubject {
        guard let value = subjects[name] else {
            throw TollgateError(.missingSubject, "\(what) limits by \(name), but the request carries no \(name)")
        }
        guard !value.isEmpty, value.utf8.count <= Bounds.subjectValue, !Validation.containsControlCharacter(value.utf8) else {
            throw TollgateError(.invalidArgument, "the \(name) subject must be 1 to \(Bounds.subjectValue) bytes without control characters")
        }
        return .custom(name: name, value: value)
    }
}

/// One decision waiting for the group-commit writer, answered exactly once: by the writer after
/// its transaction, or earlier by a cancellation or a refused submission.
///
/// `@unchecked Sendable`: `outcome` and `body` are touched only by the writer thread, in `run`
/// and `finish` (the job is handed to it by `submit`, behind the queue's lock, before either
/// runs); everything else is behind `state`'s lock.
final class DecisionJob: GroupCommitJob, @unchecked Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<Decision, TollgateError>, Never>?
        /// Set when answered before a continuation was attached (cancelled early).
        var earlyAnswer: Result<Decision, TollgateError>?
        var answered = false
    }

    private let operation: String
    /// Holds the `Store`; dropped in `finish`, before the caller is answered (see there).
    private var body: (@Sendable (borrowing WriteTransaction) throws -> Decision)?
    private let state = Mutex(State())
    private var outcome: Result<Decision, TollgateError>?

    init(operation: String, _ body: @escaping @Sendable (borrowing WriteTransaction) throws -> Decision) {
        self.operation = operation
        self.body = body
    }

    /// Returns `false` when the job was answered already (then `continuation` has been resumed).
    func attach(_ continuation: CheckedContinuation<Result<Decision, TollgateError>, Never>) -> Bool {
        let early: Result<Decision, TollgateError>? = state.withLock { state in
            if let answer = state.earlyAnswer { return answer }
            state.continuation = continuation
            return nil
        }
        guard let early else { return true }
        continuation.resume(returning: early)
        return false
    }

    /// Answers now unless answered already.
    func answer(_ result: Result<Decision, TollgateError>) {
        let continuation: CheckedContinuation<Result<Decision, TollgateError>, Never>? = state.withLock { state in
            guard !state.answered else { return nil }
            state.answered = true
            guard let continuation = state.continuation else {
                state.earlyAnswer = result
                return nil
            }
            state.continuation = nil
            return continuation
        }
        continuation?.resume(returning: result)
    }

    private var isAnswered: Bool { state.withLock { $0.answered } }

    func run(_ txn: borrowing WriteTransaction) {
        // Cancelled while queued: nothing to decide, nobody waiting.
        guard !isAnswered, let body else { return }
        do {
            outcome = .success(try body(txn))
        } catch {
            // This request alone fails; the batch goes on. (A failed LMDB operation dooms the
            // whole transaction anyway: `Environment.write` then refuses to commit it.)
            outcome = .failure(Store.mapError(error, operation))
        }
    }

    func finish(transactionError: (any Error)?) {
        // The body holds the store. Let go of it while the caller still waits (and so still holds
        // the store too): the caller, not the writer thread, then drops the last reference and
        // closes a store it never closed — when its own reference goes, not some time later.
        // (A caller answered early, by a timeout or a cancellation, may be gone already; then the
        // store is released here, on the writer thread, which `GroupCommitWriter.stop()` allows.)
        body = nil
        if let transactionError {
            answer(.failure(Store.mapError(transactionError, operation)))
        } else {
            answer(outcome ?? .failure(TollgateError(.cancelled, "\(operation) was cancelled before it ran")))
        }
    }
}
