import Tollgate

/// A tier edited mid-window applies from the next decision, to the counters already there: what
/// was counted stays counted, against the new quantity.
enum TierEditCases {
    static let minute: Int64 = 60_000_000

    static let all: [ConformanceCase] = [
        ConformanceCase("tier-edits", "fixed window lowered and raised") { backend in
            let scene = try await Scene.make(backend, limits: [Limit(name: "m", strategy: .fixedWindow, quantity: 5, windowMicroseconds: minute)])
            for _ in 0..<3 { _ = try await scene.authorize() }
            await scene.advance(1_000)
            try await backend.setTier(Tier(name: "conformance", limits: [Limit(name: "m", strategy: .fixedWindow, quantity: 2, windowMicroseconds: minute)]))
            let lowered = try await scene.authorize()
            try expectDecision(lowered, .rateLimited, limit: "m", remaining: 0, resetAfter: minute - 1_000, retryAfter: minute - 1_000, "3 counted, quantity lowered to 2")
            try expect(try lowered.limit("m").quantity, 2, "the status shows the new quantity")
            try await backend.setTier(Tier(name: "conformance", limits: [Limit(name: "m", strategy: .fixedWindow, quantity: 10, windowMicroseconds: minute)]))
            let raised = try await scene.authorize()
            try expectDecision(raised, .allowed, limit: "m", remaining: 6, "3 counted, quantity raised to 10, the 4th request")
            try expect(try raised.limit("m").quantity, 10, "the status shows the raised quantity")
        },
        ConformanceCase("tier-edits", "token bucket burst lowered and raised") { backend in
            func bucket(_ burst: UInt64) -> Limit { Limit(name: "b", strategy: .tokenBucket, quantity: 4, windowMicroseconds: 1_000_000, burst: burst) }
            let scene = try await Scene.make(backend, limits: [bucket(4)])
            _ = try await scene.authorize()
            try await backend.setTier(Tier(name: "conformance", limits: [bucket(2)]))
            try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "b", remaining: 2, "3 tokens left, burst lowered to 2: capped")
            try expectDecision(try await scene.authorize(cost: 3), .rateLimited, limit: "b", remaining: 2, "cost 3 above the lowered burst")
            try await backend.setTier(Tier(name: "conformance", limits: [bucket(8)]))
            try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "b", remaining: 3, "burst raised to 8: the tokens held, not a full bucket")
            try expectDecision(try await scene.authorize(cost: 3), .allowed, limit: "b", remaining: 0, "cost 3 of the 3 held")
        },
        ConformanceCase("tier-edits", "a limit added mid-window starts empty") { backend in
            let first = Limit(name: "m", strategy: .fixedWindow, quantity: 5, windowMicroseconds: minute)
            let scene = try await Scene.make(backend, limits: [first])
            _ = try await scene.authorize()
            try await backend.setTier(Tier(name: "conformance", limits: [first, Limit(name: "s", strategy: .fixedWindow, quantity: 1, windowMicroseconds: 1_000_000)]))
            let both = try await scene.authorize()
            try expectDecision(both, .allowed, limit: "m", remaining: 3, "the old limit")
            try expectDecision(both, .allowed, limit: "s", remaining: 0, "the new limit")
            try expectDecision(try await scene.authorize(), .rateLimited, limit: "m", remaining: 3, "refused by the new limit; the old one keeps its 3")
        },
    ]
}
