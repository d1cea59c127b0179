import Tollgate

/// Refunds give back what an allowed decision consumed — counters, credits, usage — at most once,
/// and only until the decision's refund horizon (the end of its UTC day, or the end of the last
/// window it charged if later).
enum RefundCases {
    static let day: Int64 = 86_400_000_000
    static let minute = Limit(name: "m", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 60_000_000)

    static let all: [ConformanceCase] = [
        ConformanceCase("refunds", "a refund gives counters, credits and usage back") { backend in
            let scene = try await Scene.make(backend, limits: [minute], credits: 10)
            let decision = try await scene.authorize(cost: 3)
            try await backend.refund(decision)
            let after = try await scene.peek(cost: 0)
            try expectDecision(after, .allowed, limit: "m", remaining: 5, "after the refund")
            try expect(after.creditsRemaining, 10, "credits after the refund")
            let usage = try await scene.usageToday()
            try expect(usage.consumed, 0, "consumed after the refund")
            try expect(usage.allowed, 1, "a refunded request still counts as allowed")
        },
        ConformanceCase("refunds", "a second refund gives nothing") { backend in
            let scene = try await Scene.make(backend, limits: [minute], credits: 10)
            let first = try await scene.authorize(cost: 2)
            _ = try await scene.authorize(cost: 1)
            try await backend.refund(first)
            try await backend.refund(first)
            let after = try await scene.peek(cost: 0)
            try expectDecision(after, .allowed, limit: "m", remaining: 4, "after refunding the first decision twice")
            try expect(after.creditsRemaining, 9, "credits after a double refund")
            try expect(try await scene.usageToday().consumed, 1, "consumed after a double refund")
        },
        ConformanceCase("refunds", "refunds of refused and cost-0 decisions do nothing") { backend in
            let scene = try await Scene.make(backend, limits: [Limit(name: "one", strategy: .fixedWindow, quantity: 1, windowMicroseconds: 60_000_000)], credits: 10)
            _ = try await scene.authorize()
            let refused = try await scene.authorize()
            try await backend.refund(refused)
            try await backend.refund(try await scene.authorize(cost: 0))
            let after = try await scene.peek(cost: 0)
            try expectDecision(after, .allowed, limit: "one", remaining: 0, "after refunding a refusal and a cost-0 decision")
            try expect(after.creditsRemaining, 9, "credits")
        },
        ConformanceCase("refunds", "the refund horizon is the end of the decision's day") { backend in
            let scene = try await Scene.make(backend, limits: [minute], credits: 10)
            let late = try await scene.authorize(cost: 2)
            let early = try await scene.authorize(cost: 3)
            await scene.advance(day - 1)
            try await backend.refund(late)
            try expect(try await scene.peek(cost: 0).creditsRemaining, 7, "refunded 1 µs before the day ends: 5 + 2")
            await scene.advance(1)
            try await backend.refund(early)
            try expect(try await scene.peek(cost: 0).creditsRemaining, 7, "refunded when the day ends: nothing")
            let usage = try await backend.usage(keyID: scene.key.id).first { $0.day == ConformanceClock.start.microseconds / day }
            try expect(usage?.consumed, 3, "the first day's consumed units: 5 charged, 2 refunded in time")
        },
        ConformanceCase("refunds", "a window outliving the day extends the horizon") { backend in
            let week = Limit(name: "week", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 7 * day)
            let scene = try await Scene.make(backend, limits: [week])
            let decision = try await scene.authorize(cost: 2)
            await scene.advance(7 * day - 1)
            try await backend.refund(decision)
            try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "week", remaining: 5, "refunded in the week's last microsecond")
            let again = try await scene.authorize(cost: 2)
            await scene.advance(1)
            try await backend.refund(again)
            try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "week", remaining: 5, "a new week: the old window's refund changes nothing")
        },
        ConformanceCase("refunds", "only the charged window gets the cost back") { backend in
            let scene = try await Scene.make(backend, limits: [Limit(name: "s", strategy: .fixedWindow, quantity: 3, windowMicroseconds: 1_000_000)])
            let decision = try await scene.authorize(cost: 2)
            await scene.advance(1_000_000)
            _ = try await scene.authorize(cost: 3)
            try await backend.refund(decision)
            try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "s", remaining: 0, "a refund of the previous window leaves this one full")
        },
        ConformanceCase("refunds", "a bucket gets back only what refill has not repaid") { backend in
            let scene = try await Scene.make(backend, limits: [Limit(name: "b", strategy: .tokenBucket, quantity: 4, windowMicroseconds: 1_000_000, burst: 4)])
            let decision = try await scene.authorize(cost: 2)
            await scene.advance(250_000)
            try await backend.refund(decision)
            try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "b", remaining: 4, "one unit refilled, one refunded")
            let again = try await scene.authorize(cost: 4)
            await scene.advance(500_000)
            try await backend.refund(again)
            try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "b", remaining: 4, "two units refilled, two refunded")
        },
    ]
}
