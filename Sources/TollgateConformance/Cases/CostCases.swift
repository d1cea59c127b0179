import Tollgate

/// Costs at the ends: 0 (always fits, consumes nothing but is counted as a use) and more than a
/// limit can ever hold (refused at once, never retryable, nothing consumed).
enum CostCases {
    static let all: [ConformanceCase] = [
        ConformanceCase("cost", "cost 0 passes a full limit and empty credits") { backend in
            let scene = try await Scene.make(backend, limits: [Limit(name: "m", strategy: .fixedWindow, quantity: 2, windowMicroseconds: 60_000_000)], credits: 2)
            _ = try await scene.authorize(cost: 2)
            let zero = try await scene.authorize(cost: 0)
            try expectDecision(zero, .allowed, limit: "m", remaining: 0, "cost 0 on a full limit with no credits left")
            try expect(zero.creditsRemaining, 0, "credits after a cost-0 request")
            try expectDecision(try await scene.authorize(cost: 1), .rateLimited, limit: "m", remaining: 0, "cost 1 after it")
            let usage = try await scene.usageToday()
            try expect(usage.allowed, 2, "allowed requests (the cost-0 one counts)")
            try expect(usage.consumed, 2, "consumed units")
        },
        ConformanceCase("cost", "cost above the quantity never fits") { backend in
            for strategy in Strategy.allCases {
                let name = "s\(strategy.rawValue)"
                let window: Int64 = strategy == .calendarDay ? 86_400_000_000 : strategy == .calendarMonth ? 2_592_000_000_000 : 60_000_000
                let limit = Limit(name: name, strategy: strategy, quantity: 5, windowMicroseconds: window)
                let scene = try await Scene.make(backend, limits: [limit])
                let decision = try await scene.authorize(cost: 6)
                try expectDecision(decision, .rateLimited, limit: name, remaining: 5, retryAfter: 0, "\(strategy), cost 6 of 5")
                try check(decision.neverSucceeds, "\(strategy): cost 6 of 5 must never succeed; \(decision.summary)")
                try check(try decision.limit(name).neverFits, "\(strategy): the limit must say the cost never fits")
                try expect(decision.retryAfter, nil, "\(strategy): retryAfter of a cost that never fits")
                try expectDecision(try await scene.authorize(cost: 5), .allowed, limit: name, remaining: 0, "\(strategy): the whole quantity still fits")
            }
        },
        ConformanceCase("cost", "cost above a burst never fits") { backend in
            for strategy in [Strategy.tokenBucket, .gcra] {
                let scene = try await Scene.make(backend, limits: [Limit(name: "b", strategy: strategy, quantity: 10, windowMicroseconds: 1_000_000, burst: 3)])
                let decision = try await scene.authorize(cost: 4)
                try expectDecision(decision, .rateLimited, limit: "b", remaining: 3, "\(strategy), cost 4 of burst 3")
                try check(decision.neverSucceeds, "\(strategy): cost 4 above burst 3 must never succeed; \(decision.summary)")
                try expectDecision(try await scene.authorize(cost: 3), .allowed, limit: "b", remaining: 0, "\(strategy): the burst fits")
            }
        },
    ]
}
