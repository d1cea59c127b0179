public import Tollgate

// MARK: - One random sequence

public func attempt<T>(_ body: () throws(TollgateError) -> T) -> Result<T, TollgateError> {
    do throws(TollgateError) {
        return .success(try body())
    } catch {
        return .failure(error)
    }
}

public func attemptAsync<T>(_ body: () async throws(TollgateError) -> T) async -> Result<T, TollgateError> {
    do throws(TollgateError) {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}

/// A mismatch between the store and the model.
public struct Mismatch: Error {
    public var message: String
}

let tierNames = ["bronze", "silver", "gold"]
let limitNames = ["burst", "minute", "daily", "shared"]
let owners = ["o1", "o2", "o3"]
let ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
let grantableScopes = ["read", "write", "admin:*", "*", "admin:users"]
// "admin" and "adminx:users" are not granted by "admin:*" (Docs/keys.md: a wildcard covers `admin:…`).
let requestedScopes: [String?] = [nil, nil, nil, nil, nil, "read", "write", "admin:users", "other", "admin", "adminx:users"]

/// 23:00 on the last day of a month (January, February, the leap February of 2028, December):
/// a ``ModelRun`` that starts there sees calendar months and monthly refills roll over.
public let monthEndStarts: [Timestamp] = [1_769_900_400, 1_772_319_600, 1_835_478_000, 1_798_758_000].map { Timestamp(seconds: $0) }

/// Where a ``ModelRun`` takes its choices from: a seeded generator (the model-based test), or the
/// fuzzer's input bytes, which end.
public protocol ModelChoices: RandomNumberGenerator {
    /// No more real choices: the run stops after the current operation.
    var isExhausted: Bool { get }
}

/// One sequence of operations, chosen by `Choices`, done on a real store and on a ``StoreModel``,
/// comparing every answer; at the end, after a restart, every counter, key list and usage ledger.
public final class ModelRun<Choices: ModelChoices> {
    let label: String
    var rng: Choices
    let temporary: TemporaryStore
    var model = StoreModel()
    /// Every secret ever issued (current and rotated), in issue order.
    var secrets: [String] = []
    var keyIDs: [String] = []
    var refundable: [(decision: Decision, receipt: ModelReceipt)] = []
    var log: [String] = []
    let startDay: Int64
    /// How many decisions of each outcome the run saw.
    public var counts: [String: Int] = [:]
    /// One configuration per limit name and stored case for the whole run (see `randomLimit`).
    var limitShapes: [String: Limit] = [:]

    var store: Store { temporary.store }
    var now: Timestamp { temporary.clock.now() }

    /// A run on `temporary` (removed when the run ends), named `label` in its failure reports.
    /// Give the store periodic durability: no fsync per operation; a restart loses nothing.
    /// `start`: where the clock is set before the first operation (`nil`: where it is, which
    /// keeps the fuzz corpus meaning what it meant).
    public init(label: String, choices: Choices, temporary: TemporaryStore, start: Timestamp? = nil) {
        self.label = label
        rng = choices
        self.temporary = temporary
        if let start { temporary.clock.set(start) }
        startDay = StoreModel.dayOf(temporary.clock.now())
    }

    deinit { temporary.remove() }

    func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    func chance(_ percent: UInt64) -> Bool { UInt64.random(in: 0..<100, using: &rng) < percent }
    func pick<T>(_ values: [T]) -> T { values[int(0...values.count - 1)] }

    // MARK: Random inputs

    /// A limit named `name` with a random strategy and subject. Within a run a name keeps one
    /// quantity, window and burst per stored case, so a counter is only ever read by the limit
    /// that wrote it or by one of another case (which reads it as fresh): how the engine
    /// reinterprets a state under edited parameters is its own arithmetic, which the model does
    /// not copy (the limiter property tests cover it).
    func randomLimit(named name: String) -> Limit {
        let kindPick = pick(Strategy.allCases)
        let shapeKey = "\(name)/\(ModelCounterKind(kindPick))"
        var limit = limitShapes[shapeKey] ?? randomShape(named: name, kindPick)
        limitShapes[shapeKey] = limit
        switch int(0...9) {
        case 0...3: limit.subject = .key
        case 4...5: limit.subject = .owner
        case 6...7: limit.subject = .custom("ip")
        default: limit.subject = .global
        }
        return limit
    }

    func randomShape(named name: String, _ strategy: Strategy) -> Limit {
        let quantity: UInt64 = chance(80) ? UInt64(int(1...6)) : UInt64(int(10...100))
        let base: Int64 = pick([1_000, 1_000_000, 10_000_000, 60_000_000, 3_600_000_000, 86_400_000_000])
        // Valid limits only: a burst on token bucket and GCRA, a calendar quota's own period.
        var window = base * Int64(int(1...3))
        if strategy == .calendarDay { window = 86_400_000_000 }
        if strategy == .calendarMonth { window = 30 * 86_400_000_000 }
        let takesBurst = strategy == .tokenBucket || strategy == .gcra
        let burst: UInt64? = !takesBurst || chance(50) ? nil : UInt64(int(1...8))
        return Limit(name: name, strategy: strategy, quantity: quantity, windowMicroseconds: window, burst: burst, subject: .key)
    }

    func randomRequest() -> ModelRequest {
        let cost: UInt64
        switch int(0...9) {
        case 0: cost = 0
        case 1...5: cost = 1
        default: cost = UInt64(int(2...4))
        }
        let scope = pick(requestedScopes)
        let subjects: [String: String] = chance(90) ? ["ip": pick(ips)] : [:]
        let roll = int(0...99)
        if secrets.isEmpty || roll < 8 {
            let unknown = store.keyFormat.generate(using: &rng)
            return ModelRequest(secret: unknown, cost: cost, scope: scope, subjects: subjects, malformed: false, label: "unknown key")
        }
        if roll < 15 {
            // Another last (checksum) character: rejected by the format check.
            let index = int(0...secrets.count - 1)
            var bytes = Array(secrets[index].utf8)
            bytes[bytes.count - 1] = bytes[bytes.count - 1] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            return ModelRequest(secret: String(decoding: bytes, as: UTF8.self), cost: cost, scope: scope, subjects: subjects, malformed: true, label: "broken secret #\(index)")
        }
        if roll < 30 {
            // Any secret ever issued: rotated ones, in or after their grace period, or deleted.
            let index = int(0...secrets.count - 1)
            return ModelRequest(secret: secrets[index], cost: cost, scope: scope, subjects: subjects, malformed: false, label: "secret #\(index)")
        }
        // Mostly the current secret of a key.
        let id = pick(keyIDs)
        let secret = model.currentSecret[id] ?? ""
        let index = secrets.firstIndex(of: secret) ?? -1
        return ModelRequest(secret: secret, cost: cost, scope: scope, subjects: subjects, malformed: false, label: "secret #\(index) (current of \(id))")
    }

    /// An existing key id, now and then one that does not exist.
    func randomKeyID() -> String {
        if keyIDs.isEmpty || chance(4) { return "key_0000000000000000" }
        return pick(keyIDs)
    }

    // MARK: Checks

    func fail(_ message: String) -> Mismatch { Mismatch(message: message) }

    func compare(_ what: String, _ actual: Result<Decision, TollgateError>, _ expected: Expected) throws {
        switch (actual, expected) {
        case (.success(let decision), .decision(let want)):
            let got = ExpectedDecision(decision)
            if got != want { throw fail("\(what): store \(got), model \(want)") }
        case (.failure(let error), .failure(let code)):
            if error.code != code { throw fail("\(what): store threw \(error), model expects \(code)") }
        case (.success(let decision), .failure(let code)):
            throw fail("\(what): store \(ExpectedDecision(decision)), model expects error \(code)")
        case (.failure(let error), .decision(let want)):
            throw fail("\(what): store threw \(error), model \(want)")
        }
    }

    func compareOutcome(_ what: String, _ actual: Result<Void, TollgateError>, _ expected: TollgateError.Code?) throws {
        switch (actual, expected) {
        case (.success, nil): return
        case (.success, .some(let code)): throw fail("\(what): store succeeded, model expects \(code)")
        case (.failure(let error), nil): throw fail("\(what): store threw \(error)")
        case (.failure(let error), .some(let code)):
            if error.code != code { throw fail("\(what): store threw \(error), model expects \(code)") }
        }
    }

    /// Peeks with a random request and compares; also compares the stored key record.
    func spotCheck() throws {
        let request = randomRequest()
        let peeked = attempt { () throws(TollgateError) -> Decision in
            try store.peek(key: request.secret, cost: request.cost, scope: request.scope, subjects: request.subjects)
        }
        try compare("spot peek \(request)", peeked, model.plan(request, at: now).peek)
        guard !keyIDs.isEmpty else { return }
        let id = pick(keyIDs)
        guard let want = model.keys[id] else { throw fail("model lost key \(id)") }
        let stored = attempt { () throws(TollgateError) -> KeyInfo? in try store.key(id: id) }
        guard case .success(let info?) = stored else { throw fail("key(id: \(id)) → \(stored)") }
        let same = info.owner == want.owner && info.tier == want.tier && info.scopes == want.scopes && info.state == want.state
            && info.expiresAt == want.expiresAt && info.credits == want.credits && info.refill == want.refill && info.limitOverrides == want.overrides
        if !same { throw fail("key(id: \(id)): store \(info), model \(want)") }
    }

    // MARK: Operations

    func setTier() throws {
        let name = pick(tierNames)
        var names = limitNames
        var limits: [Limit] = []
        for _ in 0..<int(1...3) {
            let limitName = names.remove(at: int(0...names.count - 1))
            limits.append(randomLimit(named: limitName))
        }
        let tier = Tier(name: name, limits: limits)
        log.append("setTier \(name) \(limits.map { "\($0.name):\($0.strategy)/\($0.quantity)/\($0.windowMicroseconds)µs/\($0.burst.map(String.init) ?? "-")/\($0.subject)" })")
        let result = attempt { () throws(TollgateError) in try store.setTier(tier) }
        try compareOutcome("setTier", result, nil)
        model.tiers[name] = tier
    }

    func createKey() throws {
        let owner = pick(owners)
        let tier = pick(tierNames)
        let credits: UInt64? = chance(40) ? UInt64(int(0...8)) : nil
        let refill: CreditRefill? = chance(30) ? CreditRefill(amount: UInt64(int(1...8)), period: chance(70) ? .day : .month) : nil
        // Half the expiring keys expire within the hour, so `expired` is answered in every chunk.
        let expirySeconds = chance(50) ? int(1...3_600) : int(1...172_800)
        let expiresAt: Timestamp? = chance(20) ? now.adding(microseconds: Int64(expirySeconds) * 1_000_000) : nil
        var scopes: [String] = []
        if chance(50) {
            for _ in 0..<int(1...2) { scopes.append(pick(grantableScopes)) }
        }
        let overrides: [Limit] = chance(20) ? [randomLimit(named: pick(limitNames))] : []
        let request = NewKey(owner: owner, tier: tier, scopes: scopes, expiresAt: expiresAt, credits: credits, refill: refill, limitOverrides: overrides)
        log.append("createKey owner \(owner) tier \(tier) credits \(credits.map(String.init) ?? "-") refill \(refill.map { "\($0.amount)/\($0.period)" } ?? "-") expires \(expiresAt.map { "\($0.microseconds - now.microseconds)µs" } ?? "-") scopes \(scopes) overrides \(overrides.count)")
        let result = attempt { () throws(TollgateError) -> IssuedKey in try store.createKey(request) }
        guard model.tiers[tier] != nil else {
            try compareOutcome("createKey on missing tier", result.map { _ in () }, .notFound)
            return
        }
        guard case .success(let issued) = result else { throw fail("createKey: \(result)") }
        let key = ModelKey(
            id: issued.info.id, owner: owner, tier: tier, scopes: scopes, state: .active, expiresAt: expiresAt,
            credits: credits ?? refill?.amount, refill: refill,
            lastRefill: refill.map { StoreModel.refillPeriod($0.period, now) } ?? 0, overrides: overrides)
        if issued.info.credits != key.credits || issued.info.tier != tier || issued.info.state != .active {
            throw fail("createKey returned \(issued.info), model \(key)")
        }
        model.keys[key.id] = key
        model.secrets[issued.secret] = .current(id: key.id)
        model.currentSecret[key.id] = issued.secret
        secrets.append(issued.secret)
        keyIDs.append(key.id)
        log.append("  → \(key.id) is secret #\(secrets.count - 1)")
    }

    func authorize() throws {
        let request = randomRequest()
        let at = now
        let plan = model.plan(request, at: at)
        log.append("authorize \(request) → model \(plan.authorize)")
        let before = attempt { () throws(TollgateError) -> Decision in
            try store.peek(key: request.secret, cost: request.cost, scope: request.scope, subjects: request.subjects)
        }
        try compare("peek before authorize", before, plan.peek)
        let result = attempt { () throws(TollgateError) -> Decision in
            try store.authorize(key: request.secret, cost: request.cost, scope: request.scope, subjects: request.subjects)
        }
        if case .failure(let error) = result { counts["error \(error.code)", default: 0] += 1 }
        if case .success(let decision) = result, decision.isAllowed, !plan.authorize.isAllowed {
            throw fail("OVER-ADMISSION: store allowed \(ExpectedDecision(decision)), model \(plan.authorize)")
        }
        try compare("authorize", result, plan.authorize)
        model.apply(plan, at: at)
        guard case .success(let decision) = result else { return }
        counts[decision.outcome.rawValue, default: 0] += 1
        if decision.isAllowed {
            if let effects = plan.effects { refundable.append((decision, effects.receipt)) }
        } else {
            // A refused request changes nothing.
            let after = attempt { () throws(TollgateError) -> Decision in
                try store.peek(key: request.secret, cost: request.cost, scope: request.scope, subjects: request.subjects)
            }
            guard case .success(let first) = before, case .success(let second) = after, first == second else {
                throw fail("refused request changed state: peek before \(before), after \(after)")
            }
        }
    }

    /// One request through the async entry point (the group-commit writer), awaited alone.
    func authorizeAsync() async throws {
        let request = randomRequest()
        let at = now
        let plan = model.plan(request, at: at)
        log.append("await authorize \(request) → model \(plan.authorize)")
        let store = self.store
        let result = await attemptAsync { () async throws(TollgateError) -> Decision in
            try await store.authorize(key: request.secret, cost: request.cost, scope: request.scope, subjects: request.subjects)
        }
        try settle("await authorize", result, plan, at: at)
    }

    /// Several requests submitted to the group-commit writer at once. Only requests whose keys
    /// and counters are disjoint go into one batch: their answers then do not depend on the order
    /// the writer takes them in, and the model can predict each one.
    func authorizeBatch() async throws {
        let at = now
        var batch: [(request: ModelRequest, plan: ModelPlan)] = []
        var keys: Set<String> = []
        var counters: Set<ModelCounterID> = []
        for _ in 0..<int(2...5) {
            let request = randomRequest()
            let footprint = model.footprint(request, at: at)
            guard keys.isDisjoint(with: footprint.keys), counters.isDisjoint(with: footprint.counters) else { continue }
            keys.formUnion(footprint.keys)
            counters.formUnion(footprint.counters)
            batch.append((request, model.plan(request, at: at)))
        }
        log.append("batch of \(batch.count): " + batch.map { "\($0.request) → model \($0.plan.authorize)" }.joined(separator: "; "))
        let store = self.store
        let inputs = batch.map { ($0.request.secret, $0.request.cost, $0.request.scope, $0.request.subjects) }
        let results = await withTaskGroup(of: (Int, Result<Decision, TollgateError>).self) { group in
            for (index, input) in inputs.enumerated() {
                group.addTask {
                    let result = await attemptAsync { () async throws(TollgateError) -> Decision in
                        try await store.authorize(key: input.0, cost: input.1, scope: input.2, subjects: input.3)
                    }
                    return (index, result)
                }
            }
            var answers: [Result<Decision, TollgateError>?] = Array(repeating: nil, count: inputs.count)
            for await (index, result) in group { answers[index] = result }
            return answers
        }
        for (index, entry) in batch.enumerated() {
            guard let result = results[index] else { throw fail("batch request \(index) has no answer") }
            try settle("batch request \(index) of \(batch.count) (\(entry.request))", result, entry.plan, at: at)
        }
    }

    /// Compares an authorize's answer with the plan and applies the plan to the model.
    func settle(_ what: String, _ result: Result<Decision, TollgateError>, _ plan: ModelPlan, at: Timestamp) throws {
        if case .failure(let error) = result { counts["error \(error.code)", default: 0] += 1 }
        if case .success(let decision) = result, decision.isAllowed, !plan.authorize.isAllowed {
            throw fail("OVER-ADMISSION (\(what)): store allowed \(ExpectedDecision(decision)), model \(plan.authorize)")
        }
        try compare(what, result, plan.authorize)
        model.apply(plan, at: at)
        guard case .success(let decision) = result else { return }
        counts[decision.outcome.rawValue, default: 0] += 1
        if decision.isAllowed, let effects = plan.effects { refundable.append((decision, effects.receipt)) }
    }

    func peek() throws {
        let request = randomRequest()
        let plan = model.plan(request, at: now)
        log.append("peek \(request) → model \(plan.peek)")
        let result = attempt { () throws(TollgateError) -> Decision in
            try store.peek(key: request.secret, cost: request.cost, scope: request.scope, subjects: request.subjects)
        }
        try compare("peek", result, plan.peek)
    }

    func refund() throws {
        guard !refundable.isEmpty else { return }
        // Half the time the oldest: a refund windows after its charge, where what is still in
        // force depends on the strategy (a sliding window's `previous`, a bucket's refill).
        let (decision, receipt) = refundable.remove(at: chance(50) ? 0 : int(0...refundable.count - 1))
        log.append("refund \(receipt.keyID) cost \(receipt.cost) from day \(receipt.day)")
        let at = now
        let result = attempt { () throws(TollgateError) in try store.refund(decision) }
        try compareOutcome("refund", result, nil)
        model.refund(receipt, at: at)
    }

    func changeState(_ verb: String) throws {
        let id = randomKeyID()
        log.append("\(verb) \(id)")
        guard var key = model.keys[id] else {
            let result = attempt { () throws(TollgateError) in
                switch verb {
                case "revoke": try store.revokeKey(id: id)
                case "disable": try store.disableKey(id: id)
                default: try store.enableKey(id: id)
                }
            }
            try compareOutcome(verb, result, .notFound)
            return
        }
        var expected: TollgateError.Code?
        switch verb {
        case "revoke":
            key.state = .revoked
        case "disable":
            if key.state == .revoked { expected = .invalidArgument } else { key.state = .disabled }
        default:
            if key.state == .revoked { expected = .invalidArgument } else { key.state = .active }
        }
        let result = attempt { () throws(TollgateError) in
            switch verb {
            case "revoke": try store.revokeKey(id: id)
            case "disable": try store.disableKey(id: id)
            default: try store.enableKey(id: id)
            }
        }
        try compareOutcome(verb, result, expected)
        if expected == nil { model.keys[id] = key }
    }

    func moveKey() throws {
        let id = randomKeyID()
        let tier = pick(tierNames)
        log.append("setTier(ofKey: \(id), to: \(tier))")
        let result = attempt { () throws(TollgateError) in try store.setTier(ofKey: id, to: tier) }
        guard var key = model.keys[id], model.tiers[tier] != nil else {
            try compareOutcome("setTier(ofKey:)", result, .notFound)
            return
        }
        try compareOutcome("setTier(ofKey:)", result, nil)
        key.tier = tier
        model.keys[id] = key
    }

    func rotate() throws {
        let id = randomKeyID()
        let graceMicroseconds: Int64 = chance(50) ? 0 : Int64(int(1...7_200_000)) * 1_000
        log.append("rotate \(id) grace \(graceMicroseconds)µs")
        let at = now
        let result = attempt { () throws(TollgateError) -> IssuedKey in
            try store.rotateKey(id: id, grace: .microseconds(graceMicroseconds))
        }
        guard let key = model.keys[id] else {
            try compareOutcome("rotate", result.map { _ in () }, .notFound)
            return
        }
        if key.state == .revoked {
            try compareOutcome("rotate revoked", result.map { _ in () }, .invalidArgument)
            return
        }
        guard case .success(let issued) = result else { throw fail("rotate: \(result)") }
        if let old = model.currentSecret[id] {
            model.secrets[old] = graceMicroseconds > 0 ? .retired(id: id, graceUntil: at.adding(microseconds: graceMicroseconds)) : nil
        }
        model.secrets[issued.secret] = .current(id: id)
        model.currentSecret[id] = issued.secret
        secrets.append(issued.secret)
        log.append("  → secret #\(secrets.count - 1)")
    }

    func addCredits() throws {
        let id = randomKeyID()
        let amount = UInt64(int(0...10))
        log.append("addCredits \(amount) to \(id)")
        let result = attempt { () throws(TollgateError) in try store.addCredits(amount, toKey: id) }
        guard var key = model.keys[id] else {
            try compareOutcome("addCredits", result, .notFound)
            return
        }
        try compareOutcome("addCredits", result, nil)
        // A due refill is applied first (see `creditsAddedWhileARefillIsDueAreKept`).
        if model.refillIsDue(key, at: now), let refill = key.refill {
            key.credits = refill.amount
            key.lastRefill = StoreModel.refillPeriod(refill.period, now)
        }
        key.credits = StoreModel.saturatingAdd(key.credits ?? 0, amount)
        model.keys[id] = key
    }

    func resetCounters() throws {
        let owner: Store.CounterOwner
        let subject: ModelSubject
        switch int(0...3) {
        case 0:
            let id = randomKeyID()
            owner = .key(id: id)
            subject = .key(id: id)
        case 1:
            let name = pick(owners)
            owner = .owner(name)
            subject = .owner(name)
        case 2:
            let ip = pick(ips)
            owner = .subject(name: "ip", value: ip)
            subject = .custom(name: "ip", value: ip)
        default:
            owner = .global
            subject = .global
        }
        let doomed = model.counters.keys.filter { $0.subject == subject }
        log.append("resetCounters \(subject) → model removes \(doomed.count)")
        let result = attempt { () throws(TollgateError) -> Int in try store.resetCounters(owner) }
        guard case .success(let removed) = result, removed == doomed.count else {
            throw fail("resetCounters(\(subject)): store \(result), model \(doomed.count)")
        }
        for id in doomed { model.counters[id] = nil }
    }

    func advance() {
        let microseconds: Int64
        switch int(0...99) {
        case 0..<20: microseconds = Int64(int(1...1_000))
        case 20..<45: microseconds = Int64(int(1_000...1_000_000))
        case 45..<70: microseconds = Int64(int(1...60)) * 1_000_000 + Int64(int(0...999_999))
        case 70..<90: microseconds = Int64(int(60...3_600)) * 1_000_000
        default: microseconds = Int64(int(3_600...259_200)) * 1_000_000
        }
        log.append("advance \(microseconds)µs")
        temporary.clock.advance(microseconds: microseconds)
    }

    func reopen() throws {
        log.append("reopen")
        try temporary.reopen()
    }

    // MARK: The end of a sequence

    /// After a restart: every counter, key list and usage ledger equals the model's.
    func finalCheck() throws {
        try temporary.reopen()
        let store = self.store
        // Both sides keyed by subject (as decisions show it) and limit name.
        var stored: [String: CounterState] = [:]
        for counter in try store.counters() { stored[counter.subject + " " + counter.limit] = counter.state }
        var modelled: [String: CounterState] = [:]
        for (id, counter) in model.counters { modelled["\(id.subject) \(id.limit)"] = counter.storedState }
        if stored != modelled {
            let extra = stored.keys.filter { modelled[$0] == nil }
            let missing = modelled.keys.filter { stored[$0] == nil }
            let differing = stored.keys.filter { modelled[$0] != nil && modelled[$0] != stored[$0] }
            throw fail("counters differ: store has \(extra.count) extra, lacks \(missing.count), \(differing.count) differ: \(differing.prefix(2).map { "\($0): store \(String(describing: stored[$0])), model \(String(describing: modelled[$0]))" })")
        }
        for owner in owners {
            let listed = try store.keys(owner: owner).map(\.id).sorted()
            let expected = model.keys.values.filter { $0.owner == owner }.map(\.id).sorted()
            if listed != expected { throw fail("keys(owner: \(owner)): store \(listed), model \(expected)") }
        }
        let today = StoreModel.dayOf(now)
        let days = Int(today - startDay + 1)
        for id in keyIDs {
            let ledger = try store.usage(keyID: id, days: days, now: now)
            var expected: [DailyUsage] = []
            for day in startDay...today {
                if let entry = model.usage[UsageID(keyID: id, day: day)] {
                    expected.append(DailyUsage(day: day, allowed: entry.allowed, denied: entry.denied, consumed: entry.consumed))
                }
            }
            if ledger != expected { throw fail("usage of \(id): store \(ledger), model \(expected)") }
        }
    }

    /// Runs the sequence (at most `operations` operations, fewer when the choices run out);
    /// returns what went wrong, if anything.
    public func run(operations: Int) async -> String? {
        var index = 0
        do {
            // Every sequence starts with a tier and keys, so requests have something to hit.
            try setTier()
            try createKey()
            try createKey()
            while index < operations && !rng.isExhausted {
                index += 1
                let roll = int(0...99)
                switch roll {
                case 0..<6: try setTier()
                case 6..<15: try createKey()
                case 15..<40: try authorize()
                case 40..<45: try await authorizeAsync()
                case 45..<50: try await authorizeBatch()
                case 50..<58: try peek()
                case 58..<63: try refund()
                case 63..<64: try changeState("revoke")
                case 64..<67: try changeState("disable")
                case 67..<71: try changeState("enable")
                case 71..<75: try moveKey()
                case 75..<79: try rotate()
                case 79..<83: try addCredits()
                case 83..<87: try resetCounters()
                case 87..<97: advance()
                default: try reopen()
                }
                // Often after a change of state, now and then after a request (which is compared
                // on its own): a random peek and a key record against the model.
                if chance(roll >= 58 ? 50 : 10) { try spotCheck() }
            }
            try finalCheck()
            return nil
        } catch let mismatch as Mismatch {
            return "\(label), operation \(index): \(mismatch.message)\n  last operations:\n    " + log.suffix(12).joined(separator: "\n    ")
        } catch {
            return "\(label), operation \(index): unexpected \(error)\n  last operations:\n    " + log.suffix(12).joined(separator: "\n    ")
        }
    }
}

