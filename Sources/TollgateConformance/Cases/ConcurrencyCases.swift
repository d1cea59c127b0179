import Tollgate

/// Concurrent callers: 8 tasks × 40 requests at once never admit more than a limit (or the
/// credits) allow — exactly that many, since every refusal leaves the state as it was.
enum ConcurrencyCases {
    static let tasks = 8
    static let requestsPerTask = 40

    static let all: [ConformanceCase] = [
        ConformanceCase("concurrency", "concurrent callers admit exactly the limit") { backend in
            let scene = try await Scene.make(backend, limits: [Limit(name: "m", strategy: .fixedWindow, quantity: 100, windowMicroseconds: 60_000_000)])
            let allowed = try await concurrently(tasks: tasks, requests: requestsPerTask) { try await scene.authorize() }
            try expect(allowed, 100, "allowed of \(tasks * requestsPerTask) concurrent requests against 100/minute")
            let usage = try await scene.usageToday()
            try expect(usage.allowed, 100, "allowed in the usage ledger")
            try expect(usage.denied, UInt64(tasks * requestsPerTask - 100), "denied in the usage ledger")
        },
        ConformanceCase("concurrency", "concurrent callers spend exactly the credits") { backend in
            let scene = try await Scene.make(backend, limits: [Limit(name: "m", strategy: .gcra, quantity: 1_000, windowMicroseconds: 1_000_000)], credits: 77)
            let allowed = try await concurrently(tasks: tasks, requests: requestsPerTask) { try await scene.authorize() }
            try expect(allowed, 77, "allowed of \(tasks * requestsPerTask) concurrent requests with 77 credits")
            try expect(try await backend.key(id: scene.key.id)?.credits, 0, "the stored balance")
        },
        ConformanceCase("concurrency", "concurrent keyless callers share one limit") { backend in
            let limit = Limit(name: "anon", strategy: .slidingWindow, quantity: 50, windowMicroseconds: 60_000_000, subject: .global)
            let allowed = try await concurrently(tasks: tasks, requests: requestsPerTask) {
                try await backend.throttle([limit], subjects: [:], cost: 1)
            }
            try expect(allowed, 50, "allowed of \(tasks * requestsPerTask) concurrent throttles against 50/minute")
        },
    ]

    /// Runs `tasks` tasks of `requests` decisions each at once; returns how many were allowed.
    static func concurrently(tasks: Int, requests: Int, _ decide: @escaping @Sendable () async throws -> Decision) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var allowed = 0
                    for _ in 0..<requests where try await decide().isAllowed { allowed += 1 }
                    return allowed
                }
            }
            return try await group.reduce(0, +)
        }
    }
}
