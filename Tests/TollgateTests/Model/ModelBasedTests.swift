import Testing
@testable import Tollgate
import TollgateTestSupport

// The in-memory store model (TollgateTestSupport's StoreModel) driven by random operation
// sequences next to a real store, through the synchronous API and the async group-commit path
// (single awaits and concurrent batches of requests with disjoint keys and counters). The model
// computes every limiter answer itself from an event log per counter (ModelLimiter.swift), not
// with the engine's arithmetic. Every sequence is seeded; a failure names its seed (set
// `replaySeed` to replay it).

// The model (StoreModel) and the runs (ModelRun) live in TollgateTestSupport, shared with the
// `operations` fuzz target.

// MARK: - Tests

@Suite("Model-based store test")
struct ModelBasedTests {
    static let sequences = 200
    static let operationsPerSequence = 120
    static let chunks = 8
    /// Set to a seed printed by a failure to replay just that sequence.
    static let replaySeed: UInt64? = nil

    static func seed(_ sequence: Int) -> UInt64 { 0x70_11_6A_7E_0000 &+ UInt64(sequence) &* 7_919 }

    @Test("random operation sequences agree with the model", arguments: 0..<chunks)
    func sequencesAgreeWithTheModel(chunk: Int) async throws {
        var seeds: [UInt64] = []
        if let replaySeed = Self.replaySeed {
            if chunk == 0 { seeds = [replaySeed] }
        } else {
            for sequence in stride(from: chunk, to: Self.sequences, by: Self.chunks) { seeds.append(Self.seed(sequence)) }
        }
        var failures: [String] = []
        var outcomes: [String: Int] = [:]
        for seed in seeds where failures.count < 2 {
            // Periodic durability: no fsync per operation; a restart (close, open) loses nothing.
            let temporary = try TemporaryStore { $0.durability = .periodic(interval: .seconds(3_600)) }
            // Every third sequence starts an hour before the end of a month.
            let start = seed % 3 == 0 ? monthEndStarts[Int(seed / 3 % 4)] : nil
            let run = ModelRun(label: "seed \(seed)", choices: SplitMix64(seed: seed), temporary: temporary, start: start)
            if let failure = await run.run(operations: Self.operationsPerSequence) { failures.append(failure) }
            outcomes.merge(run.counts, uniquingKeysWith: +)
        }
        for failure in failures { Issue.record(Comment(rawValue: failure)) }
        // The sequences must reach every kind of answer, or they test less than they seem to.
        if Self.replaySeed == nil {
            for outcome in [Decision.Outcome.allowed, .rateLimited, .creditsExhausted, .unknownKey, .malformedKey, .forbidden, .revoked, .disabled, .expired] {
                #expect(outcomes[outcome.rawValue, default: 0] > 0, "no \(outcome) decision in chunk \(chunk): \(outcomes)")
            }
        }
    }

    // MARK: Bugs the model had to step around

    /// Key overrides are validated one by one, but not for repeated names (tiers are). Two
    /// overrides named `x` share one counter; when their strategies differ, each reads the
    /// other's state as foreign, hence fresh — and the stricter limit never binds.
    @Test func overridesWithTheSameNameAreRefusedOrBothEnforced() throws {
        let temporary = try TemporaryStore { $0.durability = .periodic(interval: .seconds(3_600)) }
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "open", limits: []))
        let hour: Int64 = 3_600_000_000
        let overrides = [
            Limit(name: "x", strategy: .tokenBucket, quantity: 1, windowMicroseconds: hour),
            Limit(name: "x", strategy: .fixedWindow, quantity: 100, windowMicroseconds: hour),
        ]
        let created = attempt { () throws(TollgateError) -> IssuedKey in
            try store.createKey(NewKey(owner: "acme", tier: "open", limitOverrides: overrides))
        }
        // Refusing the overrides is a correct answer too.
        guard case .success(let key) = created else { return }
        var allowed = 0
        for _ in 0..<10 {
            if try store.authorize(key: key.secret).isAllowed { allowed += 1 }
        }
        #expect(allowed <= 1)
    }

    /// Refills are applied lazily. A change to the key (here `addCredits`) first applies a refill
    /// that is due, so the next request does not overwrite what was just added.
    @Test func creditsAddedWhileARefillIsDueAreKept() throws {
        let temporary = try TemporaryStore { $0.durability = .periodic(interval: .seconds(3_600)) }
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "metered", limits: []))
        let key = try store.createKey(NewKey(owner: "acme", tier: "metered", credits: 5, refill: CreditRefill(amount: 5, period: .day)))
        #expect(try store.authorize(key: key.secret, cost: 5).creditsRemaining == 0)
        temporary.clock.advance(by: .seconds(86_400 + 3_600))
        try store.addCredits(100, toKey: key.info.id)
        #expect(try store.key(id: key.info.id)?.credits == 105, "the due refill (5) first, then +100")
        let decision = try store.authorize(key: key.secret, cost: 1)
        #expect(decision.isAllowed)
        // Refilled to 5 at midnight, +100 at 01:00, −1 now.
        #expect(decision.creditsRemaining == 104)
    }
}
