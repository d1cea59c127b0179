/// What a decision reads from wherever state lives, inside one atomic unit of work (LMDB: the
/// decision's read or write transaction), and how it prepares its writes.
///
/// Conformers are the storage side of the seam: ``DecisionProcedure`` resolves the request
/// through them and ``DecisionCore`` decides. The LMDB conformer is `LMDBDecisionStorage`
/// (Store/); a remote backend that must decide in one round trip runs a port of the procedure
/// where its state is, and the conformance suite holds the two equal.
protocol DecisionStorage {
    /// The backend's own form of an allowed decision's writes, everything read and encoded, so
    /// that writing them cannot fail halfway through one request.
    associatedtype Writes
    /// Where a counter lives in the backend (LMDB: its table key). Mapped once per counter and
    /// decision: the read and the write use the same address.
    associatedtype CounterAddress

    /// What a presented key's hash resolves to: a key, or the retired hash of a rotated one.
    func key(hash: KeyHash) throws -> StoredKey?
    /// The current record of the key with this id (after a rotation), with its current hash.
    func key(id: String) throws -> (hash: KeyHash, key: KeyInfo, credits: DecisionCore.Credits)?
    func tier(named name: String) throws -> Tier?
    func address(of counter: CounterID) -> CounterAddress
    /// A counter's state as `limit` reads it (a state written under an edited limit is read
    /// within the limit now in force), `nil` when it has none.
    func counter(at address: CounterAddress, for limit: Limit) throws -> CounterState?
    /// Reads what the writes depend on (the usage ledger) and encodes them. `addresses[i]` is
    /// the address of the decision's `i`-th reading (``DecisionCore/CounterEffect/reading``).
    func writes(of effects: DecisionCore.Effects, addresses: [CounterAddress], keyHash: KeyHash, key: KeyInfo, at now: Timestamp) throws -> Writes
    /// The writes of a keyless decision: counters only.
    func writes(ofCounters effects: [DecisionCore.CounterEffect], addresses: [CounterAddress], at now: Timestamp) throws -> Writes
}

/// A decision request after parsing: the key's hash and the decision's time.
struct PreparedRequest: Sendable {
    var request: AuthorizationRequest
    var hash: KeyHash
    var now: Timestamp
}

/// A decision and, when it consumes anything, what to write.
struct DecisionPlan<Writes> {
    var decision: Decision
    var writes: Writes?
}

/// Resolve, then decide: the one procedure behind `authorize` and `peek` on every backend that
/// decides in Swift.
enum DecisionProcedure {
    /// Key → rotation → state, expiry, scope → tier and effective limits → their counters →
    /// ``DecisionCore/decide(key:credits:limits:cost:at:consume:lastUsedResolution:)``.
    static func plan<S: DecisionStorage>(
        _ storage: S, _ prepared: PreparedRequest, consume: Bool, lastUsedResolution: Int64
    ) throws -> DecisionPlan<S.Writes> {
        let request = prepared.request
        let now = prepared.now
        let cost = request.cost

        guard let stored = try storage.key(hash: prepared.hash) else {
            return DecisionPlan(decision: .rejected(.unknownKey, cost: cost, at: now))
        }
        let keyHash: KeyHash
        let key: KeyInfo
        let credits: DecisionCore.Credits
        switch stored {
        case .primary(let info, let lastRefill):
            (keyHash, key, credits) = (prepared.hash, info, DecisionCore.Credits(balance: info.credits, lastRefillPeriod: lastRefill))
        case .rotated(let id, let graceUntil):
            guard now < graceUntil, let current = try storage.key(id: id) else {
                return DecisionPlan(decision: .rejected(.revoked, cost: cost, at: now))
            }
            (keyHash, key, credits) = current
        }
        if let refusal = DecisionCore.keyRefusal(key, scope: request.scope, at: now) {
            return DecisionPlan(decision: .rejected(refusal, cost: cost, at: now, key: Decision.KeyIdentity(key)))
        }
        guard let tier = try storage.tier(named: key.tier) else {
            throw TollgateError(.notFound, "key \(key.id) is on tier \(key.tier), which does not exist")
        }
        let tierLimits = tier.effectiveLimits(overrides: key.limitOverrides)
        var reads = CounterReads(storage, capacity: tierLimits.count + request.additionalLimits.count)
        for limit in tierLimits {
            try reads.read(CounterID(subject: try DecisionCore.subject(limit.subject, key: key, subjects: request.subjects), name: limit.name), limit)
        }
        for limit in request.additionalLimits {
            try reads.read(CounterID(
                subject: try DecisionCore.subject(limit.subject, key: key, subjects: request.subjects),
                name: DecisionCore.callSiteCounterName(limit)), limit)
        }
        let (readings, addresses) = (reads.readings, reads.addresses)
        let evaluation = DecisionCore.evaluate(readings, cost: cost, at: now)
        let (decision, effects) = DecisionCore.decide(
            key: key, credits: credits, limits: evaluation, cost: cost, at: now, consume: consume,
            lastUsedResolution: lastUsedResolution)
        guard let effects else { return DecisionPlan(decision: decision) }
        return DecisionPlan(decision: decision, writes: try storage.writes(of: effects, addresses: addresses, keyHash: keyHash, key: key, at: now))
    }

    /// The keyless decision: every limit by a caller-supplied subject or global.
    static func planKeyless<S: DecisionStorage>(
        _ storage: S, _ limits: [Limit], subjects: [String: String], cost: UInt64, at now: Timestamp, consume: Bool
    ) throws -> DecisionPlan<S.Writes> {
        var reads = CounterReads(storage, capacity: limits.count)
        for limit in limits {
            let subject: CounterSubject
            switch limit.subject {
            case .custom(let name): subject = try DecisionCore.customSubject(name, subjects: subjects, what: "the throttle")
            default: subject = .global
            }
            try reads.read(CounterID(subject: subject, name: DecisionCore.callSiteCounterName(limit)), limit)
        }
        let (decision, counters) = DecisionCore.decideKeyless(
            limits: DecisionCore.evaluate(reads.readings, cost: cost, at: now), cost: cost, at: now, consume: consume)
        guard !counters.isEmpty else { return DecisionPlan(decision: decision) }
        return DecisionPlan(decision: decision, writes: try storage.writes(ofCounters: counters, addresses: reads.addresses, at: now))
    }
}

/// A decision's counters as read, and where each was read: the write uses the same address.
private struct CounterReads<S: DecisionStorage> {
    let storage: S
    var readings: [DecisionCore.CounterReading] = []
    var addresses: [S.CounterAddress] = []

    init(_ storage: S, capacity: Int) {
        self.storage = storage
        readings.reserveCapacity(capacity)
        addresses.reserveCapacity(capacity)
    }

    // Always inlined: as a call it cost ~400 instructions per decision (callgrind).
    @inline(__always)
    mutating func read(_ id: CounterID, _ limit: Limit) throws {
        let address = storage.address(of: id)
        readings.append(DecisionCore.CounterReading(id: id, limit: limit, state: try storage.counter(at: address, for: limit)))
        addresses.append(address)
    }
}
