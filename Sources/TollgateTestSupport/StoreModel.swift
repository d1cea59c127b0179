public import Tollgate

// A model of a store in memory — keys, secrets, tiers, counters, usage — for tests that drive a
// real store and the model with the same operations and compare every answer: the model-based
// test (Tests/TollgateTests/Model) and the `operations` fuzz target (Fuzz/). The model does the
// limiter arithmetic with the pure `Limit.evaluate`/`Limit.refund`, so what it checks is the
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
    /// Each counter charged, its limit, and the state the charge left (what a refund reads).
    public var counters: [(id: ModelCounterID, limit: Limit, charged: CounterState)]
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
    public var counters: [(id: ModelCounterID, state: CounterState, staleAt: Timestamp)]
    public var key: ModelKey
    public var receipt: ModelReceipt
}

public struct StoreModel {
    public var tiers: [String: Tier] = [:]
    public var keys: [String: ModelKey] = [:]
    public var secrets: [String: ModelSecret] = [:]
    public var currentSecret: [String: String] = [:]
    public var counters: [ModelCounterID: CounterState] = [:]
    /// Each counter's `staleAt` as the store records it (`Limit.reading` needs it).
    public var counterStaleAt: [ModelCounterID: Timestamp] = [:]
    public var usage: [UsageID: ModelUsage] = [:]

    public init() {}

    /// Days since 1970-01-01 (UTC) of `time`.
    /// A counter's state as `limit` reads it (`nil`: none).
    func read(_ id: ModelCounterID, _ limit: Limit) -> CounterState? {
        counters[id].map { limit.reading($0, staleAt: counterStaleAt[id] ?? Timestamp(microseconds: .max)) }
    }

    /// The first microsecond after `day`, saturating.
    static func endOfDay(_ day: Int64) -> Timestamp {
        let (next, dayOverflow) = day.addingReportingOverflow(1)
        let (end, overflow) = next.multipliedReportingOverflow(by: 86_400_000_000)
        return Timestamp(microseconds: dayOverflow || overflow ? .max : end)
    }

    public static func dayOf(_ time: Timestamp) -> Int64 {
        let (quotient, remainder) = time.microseconds.quotientAndRemainder(dividingBy: 86_400_000_000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    public static func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    public static func grants(_ scopes: [String], _ scope: String) -> Bool {
        for granted in scopes {
            if granted == scope || granted == "*" { return true }
            if granted.hasSuffix(":*") && scope.hasPrefix(granted.dropLast()) { return true }
        }
        return false
    }

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

    /// Statuses as they stand when the cost was not taken.
    public static func restored(_ statuses: [Decision.LimitStatus], cost: UInt64) -> [Decision.LimitStatus] {
        statuses.map { status in
            guard status.allowed else { return status }
            var copy = status
            copy.remaining = StoreModel.saturatingAdd(status.remaining, cost)
            return copy
        }
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

        let tierLimits = tiers[key.tier]?.limits ?? []
        let limits = Self.effectiveLimits(tierLimits, key.overrides)
        var statuses: [Decision.LimitStatus] = []
        var newStates: [(id: ModelCounterID, state: CounterState, staleAt: Timestamp)] = []
        var consumed: [(id: ModelCounterID, limit: Limit, charged: CounterState)] = []
        var refundableUntil = Self.endOfDay(Self.dayOf(now))
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
            let counter = ModelCounterID(subject: subject, limit: limit.name)
            let (check, state) = limit.evaluate(read(counter, limit), cost: request.cost, at: now)
            allAllow = allAllow && check.allowed
            let policy = limit.rateLimitPolicy(at: now)
            statuses.append(Decision.LimitStatus(
                name: limit.name, strategy: limit.strategy, quantity: limit.quantity,
                windowMicroseconds: limit.windowLength(at: now), subject: subject.description,
                remaining: check.remaining, resetAfter: check.resetAfter, retryAfter: check.retryAfter,
                allowed: check.allowed, neverFits: check.neverFits,
                policyQuantity: policy.quantity, policyWindowMicroseconds: policy.windowMicroseconds))
            let staleAt = now.adding(microseconds: max(check.resetAfter, 0))
            newStates.append((counter, state, staleAt))
            consumed.append((counter, limit, state))
            refundableUntil = max(refundableUntil, staleAt)
        }

        // Credits: a due refill is applied on the way (and written only with an allowed request).
        var credits = key.credits
        var lastRefill = key.lastRefill
        if let refill = key.refill {
            let period = refill.period.index(of: now)
            if period > lastRefill {
                credits = refill.amount
                lastRefill = period
            }
        }
        let restored = Self.restored(statuses, cost: request.cost)
        if !allAllow {
            return same(ExpectedDecision(outcome: .rateLimited, key: identity, limits: restored, creditsRemaining: credits, cost: request.cost, at: now), denied: key.id)
        }
        if let credits, credits < request.cost {
            return same(ExpectedDecision(outcome: .creditsExhausted, key: identity, limits: restored, creditsRemaining: credits, cost: request.cost, at: now), denied: key.id)
        }
        let after = credits.map { $0 - request.cost }
        let peek = ExpectedDecision(outcome: .allowed, key: identity, limits: restored, creditsRemaining: credits, cost: request.cost, at: now)
        let allowed = ExpectedDecision(outcome: .allowed, key: identity, limits: statuses, creditsRemaining: after, cost: request.cost, at: now)
        key.credits = after
        key.lastRefill = lastRefill
        let receipt = ModelReceipt(keyID: key.id, counters: consumed, chargedCredits: credits != nil && request.cost > 0, cost: request.cost, day: StoreModel.dayOf(now), refundableUntil: refundableUntil)
        return ModelPlan(authorize: .decision(allowed), peek: .decision(peek), effects: ModelEffects(counters: newStates, key: key, receipt: receipt), deniedKeyID: nil)
    }

    /// What `authorize` changes.
    public mutating func apply(_ plan: ModelPlan, at now: Timestamp) {
        if let effects = plan.effects {
            for (id, state, staleAt) in effects.counters {
                counters[id] = state
                counterStaleAt[id] = staleAt
            }
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

    public mutating func refund(_ receipt: ModelReceipt, at now: Timestamp) {
        guard receipt.cost > 0, now < receipt.refundableUntil else { return }
        for (id, limit, charged) in receipt.counters {
            guard let refunded = limit.refund(read(id, limit), charged: charged, cost: receipt.cost, at: now) else { continue }
            counters[id] = refunded
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
        return refill.period.index(of: now) > key.lastRefill
    }
}

