import Tollgate

/// Credits: debited only when every limit allows, refused when short, refilled to the refill
/// amount (not added to) when a new UTC day or month begins.
enum CreditCases {
    static let day: Int64 = 86_400_000_000
    static let roomy = Limit(name: "roomy", strategy: .fixedWindow, quantity: 1_000, windowMicroseconds: 1_000_000)

    static let all: [ConformanceCase] = [
        ConformanceCase("credits", "debit and exhaustion") { backend in
            let scene = try await Scene.make(backend, limits: [roomy], credits: 5)
            try expect(try await scene.authorize(cost: 3).creditsRemaining, 2, "credits after cost 3 of 5")
            let short = try await scene.authorize(cost: 3)
            try expectDecision(short, .creditsExhausted, limit: "roomy", remaining: 997, "cost 3 with 2 credits")
            try expect(short.creditsRemaining, 2, "credits reported by the refusal")
            try expect(short.retryAfter, nil, "retryAfter of an exhausted key")
            try expect(try await scene.authorize(cost: 2).creditsRemaining, 0, "the last 2 credits")
            try expect(try await backend.key(id: scene.key.id)?.credits, 0, "the stored balance")
        },
        ConformanceCase("credits", "daily refill at the day boundary") { backend in
            let scene = try await Scene.make(backend, limits: [roomy], credits: 4, refill: CreditRefill(amount: 10, period: .day))
            _ = try await scene.authorize(cost: 4)
            await scene.advance(day - 1)
            let before = try await scene.authorize(cost: 1)
            try expectDecision(before, .creditsExhausted, "day end − 1 µs")
            try expect(before.creditsRemaining, 0, "credits before the refill")
            await scene.advance(1)
            let after = try await scene.authorize(cost: 3)
            try expectDecision(after, .allowed, "the next day")
            try expect(after.creditsRemaining, 7, "a refill sets the balance to its amount (10), then cost 3")
            // Unused credits do not carry over: the next refill sets 10 again.
            await scene.advance(day)
            try expect(try await scene.authorize(cost: 1).creditsRemaining, 9, "the day after, refilled to 10, cost 1")
        },
        ConformanceCase("credits", "monthly refill at the month boundary") { backend in
            let scene = try await Scene.make(backend, limits: [roomy], credits: 1, refill: CreditRefill(amount: 2, period: .month))
            _ = try await scene.authorize(cost: 1)
            await scene.advance(31 * day - 1)
            try expectDecision(try await scene.authorize(), .creditsExhausted, "January's last microsecond")
            await scene.advance(1)
            let february = try await scene.authorize()
            try expectDecision(february, .allowed, "1 February")
            try expect(february.creditsRemaining, 1, "refilled to 2, cost 1")
        },
        ConformanceCase("credits", "a rate-limited request spends no credits") { backend in
            let scene = try await Scene.make(backend, limits: [Limit(name: "one", strategy: .fixedWindow, quantity: 1, windowMicroseconds: 1_000_000)], credits: 5)
            _ = try await scene.authorize()
            let refused = try await scene.authorize()
            try expectDecision(refused, .rateLimited, "second request in the window")
            try expect(refused.creditsRemaining, 4, "credits reported by the rate-limited refusal")
            try expect(try await backend.key(id: scene.key.id)?.credits, 4, "the stored balance")
        },
    ]
}
