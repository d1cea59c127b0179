import Tollgate
import TollgateTestSupport

/// Random operation sequences — decisions with random keys (and their rotated-away secrets),
/// costs, scopes, subjects and call-site limits; peeks, throttles, clock steps, refunds, tier
/// edits, rotations, revocations — through the backend under test and a reference LMDB store
/// driven directly (``DifferentialReference``), compared field by field after every step:
/// outcome, every limit's remaining, reset and retry-after, credits, errors; the usage ledger and
/// the keys every 25 steps, the counters at the end. Seeded, so a failure replays.
enum DifferentialCases {
    static let steps = 300

    static let all: [ConformanceCase] = [1, 2, 3].map { seed in
        ConformanceCase("differential", "random sequence, seed \(seed)") { backend in
            try await Differential(backend: backend, reference: try DifferentialReference(), seed: UInt64(seed)).run()
        }
    }
}

/// The scene both sides get: two tiers over every strategy and subject, four keys (metered with
/// a daily refill, metered without, scoped, expiring).
struct Differential {
    static let tiers = [
        Tier(name: "t1", limits: [
            Limit(name: "fixed", strategy: .fixedWindow, quantity: 6, windowMicroseconds: 2_000_000),
            Limit(name: "sliding", strategy: .slidingWindow, quantity: 9, windowMicroseconds: 3_000_000),
            Limit(name: "bucket", strategy: .tokenBucket, quantity: 5, windowMicroseconds: 1_000_000, burst: 8),
            Limit(name: "gcra", strategy: .gcra, quantity: 6, windowMicroseconds: 1_500_000, burst: 3, subject: .owner),
            Limit(name: "day", strategy: .calendarDay, quantity: 60, windowMicroseconds: 86_400_000_000, subject: .custom("ip")),
        ]),
        Tier(name: "t2", limits: [
            Limit(name: "fixed", strategy: .fixedWindow, quantity: 3, windowMicroseconds: 1_000_000),
            Limit(name: "month", strategy: .calendarMonth, quantity: 200, windowMicroseconds: 2_592_000_000_000, subject: .owner),
        ]),
    ]
    static let keys = [
        NewKey(owner: "acme", tier: "t1", scopes: ["items:*"]),
        NewKey(owner: "acme", tier: "t1", scopes: ["*"], credits: 6, refill: CreditRefill(amount: 6, period: .day)),
        NewKey(owner: "beta", tier: "t2", scopes: ["items:read"], credits: 5),
        NewKey(owner: "beta", tier: "t2", expiresAt: ConformanceClock.start.adding(microseconds: 20_000_000)),
    ]
    static let route = Limit(name: "route", strategy: .fixedWindow, quantity: 4, windowMicroseconds: 1_000_000, subject: .custom("route"))
    static let anonymous = Limit(name: "anon", strategy: .gcra, quantity: 3, windowMicroseconds: 1_000_000, subject: .custom("ip"))

    var backend: any ConformanceBackend
    var reference: DifferentialReference
    var seed: UInt64

    /// One key as each side issued it: its id and every secret it had, the current one last.
    struct Issued {
        var id: String
        var secrets: [String]
    }

    func run() async throws {
        defer { reference.close() }
        var random = SeededGenerator(seed: seed)
        var tested: [Issued] = []
        var referenced: [Issued] = []
        var tiers = Self.tiers
        for tier in tiers {
            try await backend.setTier(tier)
            try reference.store.setTier(tier)
        }
        for key in Self.keys {
            let a = try await backend.createKey(key)
            tested.append(Issued(id: a.id, secrets: [a.secret]))
            let b = try reference.store.createKey(key)
            referenced.append(Issued(id: b.info.id, secrets: [b.secret]))
        }
        var decisions: [(tested: Decision, reference: Decision)] = []
        var outcomes: Set<Decision.Outcome> = []
        var refunds = 0
        let ids = IDMap(tested: tested.map(\.id), reference: referenced.map(\.id))

        for step in 0..<DifferentialCases.steps {
            let context = "seed \(seed), step \(step)"
            let roll = random.next(below: 100)
            switch roll {
            case 0..<55, 55..<63:
                let index = random.next(below: tested.count)
                let version = random.next(below: tested[index].secrets.count)
                let cost = UInt64(random.next(below: 5))
                let scope = [nil, "items:read", "items:write"][random.next(below: 3)]
                var subjects = ["route": "GET /r\(random.next(below: 2))"]
                if random.next(below: 20) != 0 { subjects["ip"] = ["a", "b", "c"][random.next(below: 3)] }
                let additional = random.next(below: 5) == 0 ? [Self.route] : []
                func request(_ secret: String) -> AuthorizationRequest {
                    AuthorizationRequest(key: secret, cost: cost, scope: scope, subjects: subjects, additionalLimits: additional)
                }
                let peek = roll >= 55
                let mine = request(tested[index].secrets[version])
                let theirs = request(referenced[index].secrets[version])
                let a = await result { () async throws(TollgateError) -> Decision in
                    if peek { return try await backend.peek(mine) }
                    return try await backend.authorize(mine)
                }
                let b = await result { () async throws(TollgateError) -> Decision in
                    if peek { return try reference.store.peek(theirs) }
                    return try await reference.store.authorize(theirs)
                }
                try compare(a, b, ids, "\(context): \(peek ? "peek" : "authorize") key \(index) secret \(version) cost \(cost) scope \(scope ?? "-") subjects \(subjects.keys.sorted())")
                if case .success(let x) = a { outcomes.insert(x.outcome) }
                if !peek, case .success(let x) = a, case .success(let y) = b, x.isAllowed { decisions.append((x, y)) }
            case 63..<68:
                let subjects = ["ip": ["a", "b"][random.next(below: 2)]]
                let cost = UInt64(random.next(below: 3))
                let a = await result { () async throws(TollgateError) -> Decision in try await backend.throttle([Self.anonymous], subjects: subjects, cost: cost) }
                let b = await result { () async throws(TollgateError) -> Decision in try await reference.store.throttle([Self.anonymous], subjects: subjects, cost: cost) }
                try compare(a, b, ids, "\(context): throttle \(subjects) cost \(cost)")
            case 68..<83, 83..<85:
                let amount = roll < 83 ? Int64(random.next(below: 400_001)) : Int64(random.next(below: 86_400)) * 1_000_000
                await backend.advance(microseconds: amount)
                reference.clock.advance(microseconds: amount)
            case 85..<92:
                if !decisions.isEmpty {
                    let (x, y) = decisions[random.next(below: decisions.count)]
                    let a = await result { () async throws(TollgateError) in try await backend.refund(x) }
                    let b = await result { () async throws(TollgateError) in try reference.store.refund(y) }
                    try compareErrors(a, b, "\(context): refund of the decision at \(x.at.microseconds)")
                    refunds += 1
                }
            case 92..<96:
                let tier = random.next(below: tiers.count)
                tiers[tier].limits[0].quantity = UInt64(1 + random.next(below: 10))
                let edited = tiers[tier]
                let a = await result { () async throws(TollgateError) in try await backend.setTier(edited) }
                let b = await result { () async throws(TollgateError) in try reference.store.setTier(edited) }
                try compareErrors(a, b, "\(context): tier \(edited.name) edited")
            case 96..<99:
                let index = random.next(below: tested.count)
                let grace = [Duration.zero, .seconds(1), .seconds(10)][random.next(below: 3)]
                let a = await result { () async throws(TollgateError) -> ConformanceKey in try await backend.rotateKey(id: tested[index].id, grace: grace) }
                let b = await result { () async throws(TollgateError) -> IssuedKey in try reference.store.rotateKey(id: referenced[index].id, grace: grace) }
                try compareErrors(a, b, "\(context): rotate key \(index) with grace \(grace)")
                if case .success(let x) = a, case .success(let y) = b {
                    tested[index].secrets.append(x.secret)
                    referenced[index].secrets.append(y.secret)
                }
            default:
                // Only the unmetered keys: revoking a metered one early would leave credits unexercised.
                let index = [0, 3][random.next(below: 2)]
                let a = await result { () async throws(TollgateError) in try await backend.revokeKey(id: tested[index].id) }
                let b = await result { () async throws(TollgateError) in try reference.store.revokeKey(id: referenced[index].id) }
                try compareErrors(a, b, "\(context): revoke key \(index)")
            }
            if step % 25 == 24 || step == DifferentialCases.steps - 1 {
                try await compareState(ids, final: step == DifferentialCases.steps - 1, context)
            }
        }
        // A sequence that never reached these would compare little: the mix is part of the case.
        let wanted: Set<Decision.Outcome> = [.allowed, .rateLimited, .creditsExhausted, .forbidden]
        try check(wanted.isSubset(of: outcomes), "seed \(seed): the sequence reached only \(outcomes.map(\.rawValue).sorted())")
        try check(refunds > 0, "seed \(seed): the sequence refunded nothing")
    }

    /// The usage ledgers and stored keys of every key; with `final`, every counter too.
    func compareState(_ ids: IDMap, final: Bool, _ context: String) async throws {
        for (index, (a, b)) in zip(ids.tested, ids.reference).enumerated() {
            try expect(try await backend.usage(keyID: a), try reference.usage(keyID: b), "\(context): usage ledger of key \(index)")
            let stored = try reference.store.key(id: b).map { ConformanceKeyState(state: $0.state, credits: $0.credits) }
            try expect(try await backend.key(id: a), stored, "\(context): stored state and credits of key \(index)")
        }
        guard final else { return }
        let tested = try await backend.counters().map { ids.normalized($0, tested: true) }.sorted { "\($0)" < "\($1)" }
        let referenced = try reference.counters().map { ids.normalized($0, tested: false) }.sorted { "\($0)" < "\($1)" }
        try expect(tested.count, referenced.count, "\(context): number of counters")
        for (a, b) in zip(tested, referenced) { try expect(a, b, "\(context): counter \(b.subject) \(b.name)") }
    }

    func compare(_ a: Result<Decision, TollgateError>, _ b: Result<Decision, TollgateError>, _ ids: IDMap, _ context: String) throws {
        switch (a, b) {
        case (.success(let x), .success(let y)):
            try expect(ids.normalized(x, tested: true), ids.normalized(y, tested: false), context)
        default:
            try compareErrors(a, b, context)
        }
    }

    func compareErrors<T, U>(_ a: Result<T, TollgateError>, _ b: Result<U, TollgateError>, _ context: String) throws {
        switch (a, b) {
        case (.success, .success): return
        case (.failure(let x), .failure(let y)):
            try expect(x.code, y.code, "\(context): error code")
        case (.failure(let x), .success):
            throw ConformanceFailure("\(context): the backend failed with \(x.code), the reference did not")
        case (.success, .failure(let y)):
            throw ConformanceFailure("\(context): the reference failed with \(y.code), the backend did not")
        }
    }

    func result<T>(_ body: () async throws(TollgateError) -> T) async -> Result<T, TollgateError> {
        do throws(TollgateError) { return .success(try await body()) } catch { return .failure(error) }
    }
}

/// Key ids differ between the two sides; decisions and counters are compared with every id
/// replaced by the key's index.
struct IDMap {
    var tested: [String]
    var reference: [String]

    func index(of id: String, tested side: Bool) -> String {
        (side ? tested : reference).firstIndex(of: id).map { "#\($0)" } ?? "?\(id)"
    }

    func subject(_ subject: String, tested side: Bool) -> String {
        guard subject.hasPrefix("key:") else { return subject }
        return "key:" + index(of: String(subject.dropFirst(4)), tested: side)
    }

    /// Every field a decision shows, key ids replaced.
    struct NormalizedDecision: Equatable, CustomStringConvertible {
        var outcome: Decision.Outcome
        var key: String?
        var owner: String?
        var tier: String?
        var scopes: [String]?
        var limits: [Decision.LimitStatus]
        var creditsRemaining: UInt64?
        var cost: UInt64
        var at: Timestamp
        var keyRejection: KeyFormat.Rejection?
        var refusedBeforeLookup: Bool
        var retryAfter: Int64?
        var neverSucceeds: Bool

        var description: String {
            "\(outcome) key \(key ?? "-") credits \(creditsRemaining.map(String.init) ?? "-") retryAfter \(retryAfter.map(String.init) ?? "-") limits "
                + limits.map { "\($0.name)[\($0.subject)] q=\($0.quantity) r=\($0.remaining) reset=\($0.resetAfter) retry=\($0.retryAfter)\($0.allowed ? "" : " refused")\($0.neverFits ? " never" : "")" }.joined(separator: ", ")
        }
    }

    func normalized(_ decision: Decision, tested side: Bool) -> NormalizedDecision {
        NormalizedDecision(
            outcome: decision.outcome, key: decision.key.map { index(of: $0.id, tested: side) }, owner: decision.key?.owner,
            tier: decision.key?.tier, scopes: decision.key?.scopes,
            limits: decision.limits.map { status in
                var status = status
                status.subject = subject(status.subject, tested: side)
                return status
            },
            creditsRemaining: decision.creditsRemaining, cost: decision.cost, at: decision.at, keyRejection: decision.keyRejection,
            refusedBeforeLookup: decision.refusedBeforeLookup, retryAfter: decision.retryAfter, neverSucceeds: decision.neverSucceeds)
    }

    func normalized(_ counter: ConformanceCounter, tested side: Bool) -> ConformanceCounter {
        ConformanceCounter(subject: subject(counter.subject, tested: side), name: counter.name, state: counter.state)
    }
}

extension SeededGenerator {
    /// A draw in `0..<bound`, so a sequence replays from its seed on every backend.
    mutating func next(below bound: Int) -> Int { Int.random(in: 0..<bound, using: &self) }
}
