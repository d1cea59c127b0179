import Tollgate

/// The usage ledger: allowed requests and their cost per UTC day, and denied requests — every
/// refusal of a found key (rate limit, credits, revoked, scope…), however it was answered.
enum UsageCases {
    static let all: [ConformanceCase] = [
        ConformanceCase("usage", "denied counts") { backend in
            let scene = try await Scene.make(backend, limits: [Limit(name: "m", strategy: .fixedWindow, quantity: 3, windowMicroseconds: 60_000_000)], scopes: ["a"], credits: 4)
            for _ in 0..<3 { _ = try await scene.authorize() }
            for _ in 0..<2 { try expectDecision(try await scene.authorize(), .rateLimited, "over the limit") }
            _ = try await scene.peek()
            try expectDecision(try await scene.authorize(scope: "b"), .forbidden, "a scope the key lacks")
            await scene.advance(60_000_000)
            try expectDecision(try await scene.authorize(cost: 2), .creditsExhausted, "cost 2 with 1 credit")
            _ = try await backend.authorize(AuthorizationRequest(key: KeyFormat.default.generate()))
            try await backend.revokeKey(id: scene.key.id)
            try expectDecision(try await scene.authorize(), .revoked, "after revocation")
            let usage = try await scene.usageToday()
            try expect(usage.allowed, 3, "allowed")
            try expect(usage.consumed, 3, "consumed")
            try expect(usage.denied, 5, "denied: 2 rate-limited, 1 forbidden, 1 credits, 1 revoked (peeks and unknown keys not counted)")
        },
        ConformanceCase("usage", "one entry per UTC day") { backend in
            let scene = try await Scene.make(backend, limits: [Limit.perDay(2, name: "d")])
            _ = try await scene.authorize(cost: 2)
            _ = try await scene.authorize()
            await scene.advance(86_400_000_000 - 1)
            _ = try await scene.authorize()
            await scene.advance(1)
            _ = try await scene.authorize()
            let usage = try await backend.usage(keyID: scene.key.id)
            let first = ConformanceClock.start.microseconds / 86_400_000_000
            try expect(usage.map(\.day), [first, first + 1], "the ledger's days")
            try expect(usage.map(\.allowed), [1, 1], "allowed per day")
            try expect(usage.map(\.consumed), [2, 1], "consumed per day")
            try expect(usage.map(\.denied), [2, 0], "denied per day")
        },
    ]
}
