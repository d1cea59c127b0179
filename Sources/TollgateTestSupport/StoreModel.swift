public import Tollgate

// A model of a store in memory — keys, secrets, tiers, counters, usage — for tests that drive a
// real store and the model with the same operations and compare every answer: the model-based
// test (Tests/TollgateTests/Model) and the `operations` fuzz target (Fuzz/). Nothing here calls
// the engine's arithmetic: the limiters are event logs replayed from Docs/limits.md
// (ModelLimiter.swift), calendar periods come from Foundation (ModelCalendar.swift), scope
// matching is written from Docs/keys.md. So the model checks the limiters' answers as well as the
// store's plumbing: which counter a limit reads and writes, what a decision reports, what is
// written when, and what survives a restart.


public struct ModelKey: Equatable {
    public var id: String
    public var owner: String
    public var tier: String
    public var scopes: [String]
    public var state: KeyState
    public var expiresAt: Timestamp?
    public var credits: UInt64?
    public var refill: CreditRefill?
    /// The refill period last applied, as the key record keeps it.
    public var lastRefill: Int64
    public var overrides: [Limit]

    public init(id: String, owner: String, tier: String, scopes: [String], state: KeyState, expiresAt: Timestamp?,
                credits: UInt64?, refill: CreditRefill?, lastRefill: Int64, overrides: [Limit]) {
        self.id = id
        self.owner = owner
        self.tier = tier
        self.scopes = scopes
        self.state = state
        self.expiresAt = expiresAt
        self.credits = credits
        self.refill = refill
        self.lastRefill = lastRefill
        self.overrides = overrides
    }
}

/// What a presented secret resolves to.
public enum ModelSecret {
    case current(id: String)
    /// Replaced by a rotation with grace: works until `graceUntil`.
    case retired(id: String, graceUntil: Timestamp)
}

/// Whose counter, as the store keys them (its `CounterSubject`).
public enum ModelSubject: Hashable, Sendable, CustomStringConvertible {
    case key(id: String)
    case owner(String)
    case custom(name: String, value: String)
    case global

    /// As a decision's ``Decision/LimitStatus/subject`` shows it.
    public var description: String {
        switch self {
        case .key(let id): "key:\(id)"
        case .owner(let owner): "owner:\(owner)"
        case .custom(let name, let value): "\(name):\(value)"
        case .global: "global"
        }
    }
}

public struct ModelCounterID: Hashable {
    public var subject: ModelSubject
    public var limit: String
    public init(subject: ModelSubject, limit: String) {
        self.subject = subject
        self.limit = limit
    }
}

public struct UsageID: Hashable {
    public var keyID: String
    public var day: Int64
    public init(keyID: String, day: Int64) {
        self.keyID = keyID
        self.day = day
    }
}

public struct ModelUsage: Equatable {
    public var allowed: UInt64 = 0
    public var denied: UInt64 = 0
    public var consumed: UInt64 = 0
    public init() {}

}

public struct ModelReceipt {
    public var keyID: String
    /// Each counter charged, its limit, and what a refund needs to know of the charge.
    public var counters: [(id: ModelCounterID, limit: Limit, charge: ModelCharge)]
    public var chargedCredits: Bool
    public var cost: UInt64
    public var day: Int64
    /// The end of the decision's UTC day or of the last window it charged, whichever is later;
    /// a refund from then on gives nothing back.
    public var refundableUntil: Timestamp
}

public struct ModelRequest: CustomStringConvertible {
    public var secret: String
    public var cost: UInt64
    public var scope: String?
    public var subjects: [String: String]
    /// The secret was deliberately broken: the store must reject it before any lookup.
    public var malformed: Bool
    /// Which secret, for the log (never the secret itself).
    public var label: String

    public init(secret: String, cost: UInt64, scope: String?, subjects: [String: String], malformed: Bool, label: String) {
        self.secret = secret
        self.cost = cost
        self.scope = scope
        self.subjects = subjects
        self.malformed = malformed
        self.label = label
    }

    public var description: String {
        "\(label) cost \(cost) scope \(scope ?? "-") ip \(subjects["ip"] ?? "-")"
    }
}

/// The parts of a decision the model predicts (everything but the receipt and key rejection).
public struct ExpectedDecision: Equatable, CustomStringConvertible {
    public var outcome: Decision.Outcome
    public var key: Decision.KeyIdentity?
    public var limits: [Decision.LimitStatus]
    public var creditsRemaining: UInt64?
    public var cost: UInt64
    public var at: Timestamp

    public init(outcome: Decision.Outcome, key: Decision.KeyIdentity?, limits: [Decision.LimitStatus], creditsRemaining: UInt64?, cost: UInt64, at: Timestamp) {
        self.outcome = outcome
        self.key = key
        self.limits = limits
        self.creditsRemaining = creditsRemaining
        self.cost = cost
        self.at = at
    }

    public init(_ decision: Decision) {
        self.init(outcome: decision.outcome, key: decision.key, limits: decision.limits,
                  creditsRemaining: decision.creditsRemaining, cost: decision.cost, at: decision.at)
    }

    public var description: String {
        let limitText = limits.map { status in
            "\(status.name)@\(status.subject)[\(status.allowed ? "ok" : "no") rem \(status.remaining) retry \(status.retryAfter) reset \(status.resetAfter)\(status.neverFits ? " never" : "")]"
        }
        return "\(outcome) key \(key?.id ?? "-") tier \(key?.tier ?? "-") credits \(creditsRemaining.map(String.init) ?? "-") \(limitText)"
    }
}

public enum Expected: CustomStringConvertible {
    case decision(ExpectedDecision)
    case failure(TollgateError.Code)

    public var description: String {
        switch self {
        case .decision(let decision): "\(decision)"
        case .failure(let code): "error \(code)"
        }
    }

    public var isAllowed: Bool {
        if case .decision(let decision) = self { return decision.outcome == .allowed }
        return false
    }
}

/// What one request does: the answers of `authorize` and `peek`, and what `authorize` changes.
public struct ModelPlan {
    public var authorize: Expected
    public var peek: Expected
    /// Allowed: the counters, key and usage to write.
    public var effects: ModelEffects?
    /// Refused with a known key: a denial to count.
    public var deniedKeyID: String?
}

public struct ModelEffects {
    public var counters: [(id: ModelCounterID, counter: ModelCounter)]
    public var key: ModelKey
    public var receipt: ModelReceipt
}

public struct StoreModel {
    public var tiers: [String: Tier] = [:]
    public var keys: [String: ModelKey] = [:]
    public var secrets: [String: ModelSecret] = [:]
    public var currentSecret: [String: String] = [:]
    /// Every counter the store holds, as the log of its writes.
    public var counters: [ModelCounterID: ModelCounter] = [:]
    public var usage: [UsageID: ModelUsage] = [:]

    public init() {}

    /// Days since 1970-01-01 (UTC) of `time`.
    public static func dayOf(_ time: Timestamp) -> Int64 { ModelCalendar.day(time.microseconds) }

    /// The number of the refill period containing `time` (the model's own numbering: it is only
    /// ever compared with itself).
    public static func refillPeriod(_ period: CreditRefill.Period, _ time: Timestamp) -> Int64 {
        switch period {
        case .day: ModelCalendar.day(time.microseconds)
        case .month: ModelCalendar.monthNumber(time.microseconds)
        }
    }

    public static func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    /// Docs/keys.md, "Scopes": a granted scope equal to the requested one, `*`, or `prefix:*`,
    /// which grants every scope that starts with `prefix:`.
    public static func grants(_ scopes: [String], _ scope: String) -> Bool {
        scopes.contains { granted in
            if granted == "*" || granted == scope { return true }
            let bytes = Array(granted.utf8)
            guard bytes.count >= 2, bytes[bytes.count - 1] == UInt8(ascii: "*"), bytes[bytes.count - 2] == UInt8(ascii: ":") else {
                return false
            }
            return Array(scope.utf8).starts(with: bytes.dropLast())
        }
    }

    /// The tier's limits with the key's overrides: same name replaces (in the tier's order), new
    /// names come after.
    public static func effectiveLimits(_ tier: [Limit], _ overrides: [Limit]) -> [Limit] {
        var result: [Limit] = []
        for limit in tier {
            result.append(overrides.first { $0.name == limit.name } ?? limit)
        }
        for override in overrides where !tier.contains(where: { $0.name == override.name }) {
            result.append(override)
        }
        return result
    }

    public func plan(_ request: ModelRequest, at now: Timestamp) -> ModelPlan {
        func same(_ decision: ExpectedDecision, denied: String? = nil) -> ModelPlan {
            ModelPlan(authorize: .decision(decision), peek: .decision(decision), effects: nil, deniedKeyID: denied)
        }
        func rejected(_ outcome: Decision.Outcome, _ identity: Decision.KeyIdentity? = nil) -> ModelPlan {
            same(ExpectedDecision(outcome: outcome, key: identity, limits: [], creditsRemaining: nil, cost: request.cost, at: now), denied: identity?.id)
        }

        if request.malformed { return rejected(.malformedKey) }
        guard let secret = secrets[request.secret] else { return rejected(.unknownKey) }
        let keyID: String
        switch secret {
        case .current(let id):
            keyID = id
        case .retired(let id, let graceUntil):
            guard now < graceUntil else { return rejected(.revoked) }
            keyID = id
        }
        guard var key = keys[keyID] else { return rejected(.unknownKey) }
        let identity = Decision.KeyIdentity(id: key.id, owner: key.owner, tier: key.tier, scopes: key.scopes)
        switch key.state {
        case .revoked: return rejected(.revoked, identity)
        case .disabled: return rejected(.disabled, identity)
        case .active: break
        }
        if let expiresAt = key.expiresAt, now >= expiresAt { return rejected(.expired, identity) }
        if let scope = request.scope, !Self.grants(key.scopes, scope) { return rejected(.forbidden, identity) }

        let t = now.microseconds
        let limits = Self.effectiveLimits(tiers[key.tier]?.limits ?? [], key.overrides)
        var statuses: [Decision.LimitStatus] = []
        var peeked: [Decision.LimitStatus] = []
        var written: [(id: ModelCounterID, counter: ModelCounter)] = []
        var charges: [(id: ModelCounterID, limit: Limit, charge: ModelCharge)] = []
        var refundableUntil = ModelCalendar.dayPeriod(t).end
        var allAllow = true
        for limit in limits {
            let subject: ModelSubject
            switch limit.subject {
            case .key: subject = .key(id: key.id)
            case .owner: subject = .owner(key.owner)
            case .global: subject = .global
            case .custom(let name):
                guard let value = request.subjects[name] else {
                    return ModelPlan(authorize: .failure(.missingSubject), peek: .failure(.missingSubject), effects: nil, deniedKeyID: nil)
                }
                subject = .custom(name: name, value: value)
            }
            let id = ModelCounterID(subject: subject, limit: limit.name)
            var counter = ModelCounter.reading(counters[id], as: limit)
            let check = counter.check(request.cost, at: t)
            allAllow = allAllow && check.allowed
            let policy = counter.policy(at: t)
            let status = Decision.LimitStatus(
                name: limit.name, strategy: limit.strategy, quantity: limit.quantity,
                windowMicroseconds: counter.windowLength(at: t), subject: subject.description,
                remaining: check.remaining, resetAfter: check.resetAfter, retryAfter: check.retryAfter,
                allowed: check.allowed, neverFits: check.neverFits,
                policyQuantity: policy.quantity, policyWindowMicroseconds: policy.window)
            statuses.append(status)
            var peekStatus = status
            peekStatus.remaining = check.remainingNow
            peeked.append(peekStatus)
            if check.allowed {
                charges.append((id, limit, counter.charge(request.cost, at: t)))
                written.append((id, counter))
                refundableUntil = max(refundableUntil, t + check.resetAfter)
            }
        }

        // Credits: a due refill sets them back to its amount (written only with an allowed request).
        var credits = key.credits
        var lastRefill = key.lastRefill
        if let refill = key.refill {
            let period = Self.refillPeriod(refill.period, now)
            if period > lastRefill {
                credits = refill.amount
                lastRefill = period
            }
        }
        if !allAllow {
            return same(ExpectedDecision(outcome: .rateLimited, key: identity, limits: peeked, creditsRemaining: credits, cost: request.cost, at: now), denied: key.id)
        }
        if let credits, credits < request.cost {
            return same(ExpectedDecision(outcome: .creditsExhausted, key: identity, limits: peeked, creditsRemaining: credits, cost: request.cost, at: now), denied: key.id)
        }
        let after = credits.map { $0 - request.cost }
        let peek = ExpectedDecision(outcome: .allowed, key: identity, limits: peeked, creditsRemaining: credits, cost: request.cost, at: now)
        let allowed = ExpectedDecision(outcome: .allowed, key: identity, limits: statuses, creditsRemaining: after, cost: request.cost, at: now)
        key.credits = after
        key.lastRefill = lastRefill
        let receipt = ModelReceipt(keyID: key.id, counters: charges, chargedCredits: credits != nil && request.cost > 0,
                                   cost: request.cost, day: Self.dayOf(now), refundableUntil: Timestamp(microseconds: refundableUntil))
        return ModelPlan(authorize: .decision(allowed), peek: .decision(peek), effects: ModelEffects(counters: written, key: key, receipt: receipt), deniedKeyID: nil)
    }

    /// Which counters and key a plan reads or writes: plans with disjoint footprints can be
    /// decided in one batch in any order.
    public func footprint(_ request: ModelRequest, at now: Timestamp) -> (keys: Set<String>, counters: Set<ModelCounterID>) {
        guard !request.malformed, let secret = secrets[request.secret] else { return ([], []) }
        let keyID: String
        switch secret {
        case .current(let id), .retired(let id, _): keyID = id
        }
        guard let key = keys[keyID] else { return ([keyID], []) }
        var ids: Set<ModelCounterID> = []
        for limit in Self.effectiveLimits(tiers[key.tier]?.limits ?? [], key.overrides) {
            switch limit.subject {
            case .key: ids.insert(ModelCounterID(subject: .key(id: key.id), limit: limit.name))
            case .owner: ids.insert(ModelCounterID(subject: .owner(key.owner), limit: limit.name))
            case .global: ids.insert(ModelCounterID(subject: .global, limit: limit.name))
            case .custom(let name):
                ids.insert(ModelCounterID(subject: .custom(name: name, value: request.subjects[name] ?? "-"), limit: limit.name))
            }
        }
        return ([keyID], ids)
    }

    /// What `authorize` changes.
    public mutating func apply(_ plan: ModelPlan, at now: Timestamp) {
        if let effects = plan.effects {
            for (id, counter) in effects.counters { counters[id] = counter }
            keys[effects.key.id] = effects.key
            let usageID = UsageID(keyID: effects.key.id, day: effects.receipt.day)
            var entry = usage[usageID] ?? ModelUsage()
            entry.allowed += 1
            entry.consumed = StoreModel.saturatingAdd(entry.consumed, effects.receipt.cost)
            usage[usageID] = entry
        }
        if let keyID = plan.deniedKeyID {
            usage[UsageID(keyID: keyID, day: StoreModel.dayOf(now)), default: ModelUsage()].denied += 1
        }
    }

    /// Docs/decisions.md, "Refund and reset": before the horizon, each counter gets back what is
    /// still in force of its charge, the credits and the day's consumption the whole cost.
    public mutating func refund(_ receipt: ModelReceipt, at now: Timestamp) {
        guard receipt.cost > 0, now < receipt.refundableUntil else { return }
        for (id, limit, charge) in receipt.counters {
            // A counter reset since, or now of another strategy's case, is left alone.
            guard var counter = counters[id], counter.kind == ModelCounterKind(limit.strategy) else { continue }
            if counter.refund(charge, cost: receipt.cost, at: now.microseconds) { counters[id] = counter }
        }
        if receipt.chargedCredits, var key = keys[receipt.keyID], let credits = key.credits {
            key.credits = StoreModel.saturatingAdd(credits, receipt.cost)
            keys[receipt.keyID] = key
        }
        let usageID = UsageID(keyID: receipt.keyID, day: receipt.day)
        var entry = usage[usageID] ?? ModelUsage()
        entry.consumed = entry.consumed >= receipt.cost ? entry.consumed - receipt.cost : 0
        usage[usageID] = entry
    }

    /// Whether a refill is due but not yet written (see `creditsAddedWhileARefillIsDueAreKept`).
    public func refillIsDue(_ key: ModelKey, at now: Timestamp) -> Bool {
        guard let refill = key.refill else { return false }
        return Self.refillPeriod(refill.period, now) > key.lastRefill
    }
}
