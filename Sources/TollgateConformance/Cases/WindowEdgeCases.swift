import Tollgate

/// Every strategy at its edges, to the microsecond: one before the window (or refill) ends, at
/// its end, and one after. The clock starts at midnight UTC, so every window begins at t0.
enum WindowEdgeCases {
    static let second: Int64 = 1_000_000
    static let day: Int64 = 86_400_000_000

    static let all: [ConformanceCase] = [
        ConformanceCase("window-edges", "fixed window") { backend in
            try await windowEdges(backend, Limit(name: "w", strategy: .fixedWindow, quantity: 3, windowMicroseconds: second), window: second, next: second)
        },
        ConformanceCase("window-edges", "calendar day") { backend in
            try await windowEdges(backend, Limit.perDay(3, name: "w"), window: day, next: day)
        },
        // January has 31 days, the February after it 28 (2026 is no leap year).
        ConformanceCase("window-edges", "calendar month") { backend in
            try await windowEdges(backend, Limit.perMonth(3, name: "w"), window: 31 * day, next: 28 * day)
        },
        ConformanceCase("window-edges", "sliding window") { backend in try await slidingEdges(backend) },
        ConformanceCase("window-edges", "token bucket") { backend in try await bucketEdges(backend, .tokenBucket) },
        ConformanceCase("window-edges", "gcra") { backend in try await bucketEdges(backend, .gcra) },
    ]

    /// A window strategy of quantity 3: full at t0; at w − 1 µs still full, one microsecond to
    /// wait; at w a new window (of length `next`) with the full quantity.
    static func windowEdges(_ backend: any ConformanceBackend, _ limit: Limit, window: Int64, next: Int64) async throws {
        let scene = try await Scene.make(backend, limits: [limit])
        for expected in [UInt64(2), 1, 0] {
            try expectDecision(try await scene.authorize(), .allowed, limit: "w", remaining: expected, resetAfter: window, retryAfter: 0, "t0")
        }
        let full = try await scene.authorize()
        try expectDecision(full, .rateLimited, limit: "w", remaining: 0, resetAfter: window, retryAfter: window, "t0, 4th request")
        try expect(full.retryAfter, window, "the decision's retryAfter at t0")
        await scene.advance(window - 1)
        let last = try await scene.authorize()
        try expectDecision(last, .rateLimited, limit: "w", remaining: 0, resetAfter: 1, retryAfter: 1, "w − 1 µs")
        try expect(last.retryAfter, 1, "the decision's retryAfter at w − 1 µs")
        await scene.advance(1)
        try expectDecision(try await scene.authorize(), .allowed, limit: "w", remaining: 2, resetAfter: next, retryAfter: 0, "w")
        await scene.advance(1)
        try expectDecision(try await scene.authorize(), .allowed, limit: "w", remaining: 1, resetAfter: next - 1, retryAfter: 0, "w + 1 µs")
    }

    /// Quantity 4 per second, filled at t0. The previous window weighs `(w − elapsed) / w`, so at
    /// w the estimate is still 4 and one unit fits only once a quarter of the window has passed.
    static func slidingEdges(_ backend: any ConformanceBackend) async throws {
        let scene = try await Scene.make(backend, limits: [Limit(name: "w", strategy: .slidingWindow, quantity: 4, windowMicroseconds: second)])
        for expected in [UInt64(3), 2, 1, 0] {
            // While this window counts anything, the estimate decays to 0 only at the end of the next.
            try expectDecision(try await scene.authorize(), .allowed, limit: "w", remaining: expected, resetAfter: 2 * second, "t0")
        }
        try expectDecision(try await scene.authorize(), .rateLimited, limit: "w", remaining: 0, retryAfter: second + 250_000, "t0, 5th request")
        await scene.advance(second - 1)
        try expectDecision(try await scene.authorize(), .rateLimited, limit: "w", remaining: 0, retryAfter: 250_001, "w − 1 µs")
        await scene.advance(1)
        try expectDecision(try await scene.authorize(), .rateLimited, limit: "w", remaining: 0, resetAfter: second, retryAfter: 250_000, "w")
        await scene.advance(1)
        try expectDecision(try await scene.authorize(), .rateLimited, limit: "w", remaining: 0, resetAfter: second - 1, retryAfter: 249_999, "w + 1 µs")
        await scene.advance(250_000 - 2)
        try expectDecision(try await scene.authorize(), .rateLimited, limit: "w", retryAfter: 1, "w + ¼w − 1 µs")
        await scene.advance(1)
        try expectDecision(try await scene.authorize(), .allowed, limit: "w", remaining: 0, "w + ¼w")
        await scene.advance(second * 2)
        try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "w", remaining: 4, resetAfter: 0, "two windows later")
    }

    /// Quantity 4 per second, burst 4 (token bucket and GCRA answer alike on a clock that never
    /// goes back): emptied at t0, full again at w; a unit comes back every w/4.
    static func bucketEdges(_ backend: any ConformanceBackend, _ strategy: Strategy) async throws {
        let scene = try await Scene.make(backend, limits: [Limit(name: "w", strategy: strategy, quantity: 4, windowMicroseconds: second, burst: 4)])
        for (remaining, reset) in [(UInt64(3), Int64(250_000)), (2, 500_000), (1, 750_000), (0, second)] {
            try expectDecision(try await scene.authorize(), .allowed, limit: "w", remaining: remaining, resetAfter: reset, retryAfter: 0, "t0")
        }
        try expectDecision(try await scene.authorize(), .rateLimited, limit: "w", remaining: 0, resetAfter: second, retryAfter: 250_000, "t0, 5th request")
        await scene.advance(second - 1)
        try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "w", remaining: 3, resetAfter: 1, "w − 1 µs")
        await scene.advance(1)
        try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "w", remaining: 4, resetAfter: 0, "w")
        await scene.advance(1)
        try expectDecision(try await scene.peek(cost: 0), .allowed, limit: "w", remaining: 4, resetAfter: 0, "w + 1 µs (the burst caps it)")
        for _ in 0..<4 { _ = try await scene.authorize() }
        try expectDecision(try await scene.authorize(), .rateLimited, limit: "w", retryAfter: 250_000, "emptied again")
        await scene.advance(250_000 - 1)
        try expectDecision(try await scene.authorize(), .rateLimited, limit: "w", retryAfter: 1, "one unit's refill − 1 µs")
        await scene.advance(1)
        try expectDecision(try await scene.authorize(), .allowed, limit: "w", remaining: 0, "one unit's refill")
    }
}
