import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// The seam holds: ``DecisionProcedure`` over a second storage — plain dictionaries, no LMDB —
/// decides exactly as the LMDB store does, request for request. What the procedure needs from a
/// backend is only what ``DecisionStorage`` asks for.
@Suite struct DecisionProcedureTests {
    /// A backend in memory: a key by hash, a tier by name, a counter by its logical id.
    final class MemoryStorage: DecisionStorage {
        var keys: [KeyHash: StoredKey] = [:]
        var tiers: [String: Tier] = [:]
        var counters: [CounterID: CounterState] = [:]
        var usage: [String: (allowed: UInt64, consumed: UInt64)] = [:]

        typealias Writes = DecisionCore.Effects?

        func key(hash: KeyHash) throws -> StoredKey? { keys[hash] }
        func key(id: String) throws -> (hash: KeyHash, key: KeyInfo, credits: DecisionCore.Credits)? {
            for (hash, stored) in keys {
                if case .primary(let info, let lastRefill) = stored, info.id == id {
                    return (hash, info, DecisionCore.Credits(balance: info.credits, lastRefillPeriod: lastRefill))
                }
            }
            return nil
        }
        func tier(named name: String) throws -> Tier? { tiers[name] }
        func address(of counter: CounterID) -> CounterID { counter }
        func counter(at id: CounterID, for limit: Limit) throws -> CounterState? { counters[id] }
        func writes(of effects: DecisionCore.Effects, addresses: [CounterID], keyHash: KeyHash, key: KeyInfo, at now: Timestamp) throws -> Writes { effects }
        func writes(ofCounters effects: [DecisionCore.CounterEffect], addresses: [CounterID], at now: Timestamp) throws -> Writes {
            DecisionCore.Effects(counters: effects, key: DecisionCore.KeyEffects(
                credits: DecisionCore.Credits(balance: nil, lastRefillPeriod: 0), creditsChanged: false, lastUsedAt: nil, usageDay: 0, cost: 0))
        }

        func apply(_ effects: DecisionCore.Effects, keyHash: KeyHash) {
            for counter in effects.counters { counters[counter.id] = counter.state }
            guard case .primary(var info, var lastRefill) = keys[keyHash] else { return }
            if effects.key.creditsChanged {
                info.credits = effects.key.credits.balance
                lastRefill = effects.key.credits.lastRefillPeriod
            }
            if let lastUsedAt = effects.key.lastUsedAt { info.lastUsedAt = lastUsedAt }
            keys[keyHash] = .primary(info, lastRefillPeriod: lastRefill)
            usage[info.id, default: (0, 0)].allowed += 1
            usage[info.id, default: (0, 0)].consumed += effects.key.cost
        }
    }

    static let tier = Tier(name: "mixed", limits: [
        Limit(name: "fixed", strategy: .fixedWindow, quantity: 7, windowMicroseconds: 2_000_000),
        Limit(name: "sliding", strategy: .slidingWindow, quantity: 9, windowMicroseconds: 3_000_000),
        Limit(name: "bucket", strategy: .tokenBucket, quantity: 5, windowMicroseconds: 1_000_000, burst: 8),
        Limit(name: "gcra", strategy: .gcra, quantity: 6, windowMicroseconds: 1_500_000, burst: 3, subject: .owner),
        Limit(name: "day", strategy: .calendarDay, quantity: 60, windowMicroseconds: 86_400_000_000, subject: .custom("ip")),
    ])

    @Test(arguments: [UInt64(1), 2, 3])
    func aStorageWithoutLMDBDecidesAsTheStoreDoes(seed: UInt64) throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Self.tier)
        let memory = MemoryStorage()
        memory.tiers[Self.tier.name] = Self.tier
        var secrets: [String] = []
        for credits in [nil, UInt64(40)] {
            let issued = try store.createKey(NewKey(
                owner: "acme", tier: Self.tier.name, scopes: ["items:*"], credits: credits,
                refill: credits.map { _ in CreditRefill(amount: 40, period: .day) }))
            let hash = store.hasher.hash(issued.secret)
            memory.keys[hash] = try store.read("test") { txn in try LMDBDecisionStorage(txn, store).key(hash: hash) }
            secrets.append(issued.secret)
        }
        var random = SeededGenerator(seed: seed)
        var outcomes: Set<Decision.Outcome> = []
        for step in 0..<400 {
            temporary.clock.advance(microseconds: Int64.random(in: 0...400_000, using: &random) * (step % 50 == 49 ? 300 : 1))
            let request = AuthorizationRequest(
                key: secrets.randomElement(using: &random)!, cost: UInt64.random(in: 0...4, using: &random),
                scope: Bool.random(using: &random) ? "items:read" : (step % 7 == 0 ? "reports:read" : nil),
                subjects: ["ip": ["203.0.113.7", "198.51.100.1"].randomElement(using: &random)!],
                at: temporary.clock.now())
            let stored = try store.authorize(synchronously: request)
            let prepared = PreparedRequest(request: request, hash: store.hasher.hash(request.key), now: temporary.clock.now())
            let plan = try DecisionProcedure.plan(memory, prepared, consume: true, lastUsedResolution: 60_000_000)
            if let effects = plan.writes, let effects { memory.apply(effects, keyHash: prepared.hash) }
            var expected = plan.decision
            expected.receipt = stored.receipt // random ids; their counters are compared below
            #expect(stored == expected, "step \(step)")
            #expect(stored.receipt?.counters == plan.decision.receipt?.counters, "step \(step)")
            outcomes.insert(stored.outcome)
        }
        #expect(outcomes.isSuperset(of: [.allowed, .rateLimited, .forbidden, .creditsExhausted]), "\(outcomes)")
    }
}
