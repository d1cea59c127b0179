import Tollgate

/// Several limits decide together, all or nothing: a request refused by one consumes nothing of
/// the others — tier limits, call-site limits and owner-wide ones alike.
enum SeveralLimitsCases {
    static let second = Limit(name: "second", strategy: .fixedWindow, quantity: 1, windowMicroseconds: 1_000_000)
    static let hour = Limit(name: "hour", strategy: .slidingWindow, quantity: 10, windowMicroseconds: 3_600_000_000)

    static let all: [ConformanceCase] = [
        ConformanceCase("several-limits", "a narrow refusal spends nothing of a broad limit") { backend in
            let bucket = Limit(name: "bucket", strategy: .tokenBucket, quantity: 10, windowMicroseconds: 60_000_000)
            let scene = try await Scene.make(backend, limits: [hour, bucket, second], credits: 10)
            let first = try await scene.authorize()
            try expectDecision(first, .allowed, limit: "hour", remaining: 9, "the first request")
            for attempt in 1...3 {
                let refused = try await scene.authorize()
                try expectDecision(refused, .rateLimited, limit: "hour", remaining: 9, "refusal \(attempt) by the 1/second limit")
                try expectDecision(refused, .rateLimited, limit: "bucket", remaining: 9, "refusal \(attempt), the bucket")
                try check(try refused.limit("hour").allowed && !(try refused.limit("second").allowed), "only the narrow limit refuses: \(refused.summary)")
                try expect(refused.creditsRemaining, 9, "credits after refusal \(attempt)")
            }
            await scene.advance(1_000_000)
            let next = try await scene.authorize()
            try expectDecision(next, .allowed, limit: "hour", remaining: 8, "a second later: the refusals took nothing")
            try expect(next.creditsRemaining, 8, "credits a second later")
        },
        ConformanceCase("several-limits", "call-site limits decide with the tier's") { backend in
            let perIP = Limit(name: "ip", strategy: .fixedWindow, quantity: 2, windowMicroseconds: 60_000_000, subject: .custom("ip"))
            let scene = try await Scene.make(backend, limits: [hour])
            func request(_ ip: String) -> AuthorizationRequest { scene.request(subjects: ["ip": ip], additionalLimits: [perIP]) }
            for remaining in [UInt64(1), 0] {
                let allowed = try await backend.authorize(request("203.0.113.7"))
                try expectDecision(allowed, .allowed, limit: "ip", remaining: remaining, "from 203.0.113.7")
                try expect(try allowed.limit("ip").subject, "ip:203.0.113.7", "the call-site limit's subject")
            }
            let refused = try await backend.authorize(request("203.0.113.7"))
            try expectDecision(refused, .rateLimited, limit: "hour", remaining: 8, "refused by the call site's limit")
            try expect(refused.limits.map(\.name), ["hour", "ip"], "the tier's limits first, then the call site's")
            try expectDecision(try await backend.authorize(request("198.51.100.1")), .allowed, limit: "hour", remaining: 7, "another address")
            // A call site's counter is its own: `@ip`, not a tier limit called `ip`.
            let names = Set(try await backend.counters().map(\.name))
            try expect(names, ["hour", "@ip"], "counter names")
        },
        ConformanceCase("several-limits", "an owner's limit spans its keys") { backend in
            let owner = Limit(name: "owner", strategy: .fixedWindow, quantity: 3, windowMicroseconds: 60_000_000, subject: .owner)
            let a = try await Scene.make(backend, limits: [owner])
            let b = Scene(backend: backend, key: try await backend.createKey(NewKey(owner: "acme", tier: "conformance")))
            let c = Scene(backend: backend, key: try await backend.createKey(NewKey(owner: "other", tier: "conformance")))
            _ = try await a.authorize(cost: 2)
            try expectDecision(try await b.authorize(), .allowed, limit: "owner", remaining: 0, "the owner's second key")
            let refused = try await a.authorize()
            try expectDecision(refused, .rateLimited, limit: "owner", "the first key, owner's quota spent")
            try expect(try refused.limit("owner").subject, "owner:acme", "the owner limit's subject")
            try expectDecision(try await c.authorize(), .allowed, limit: "owner", remaining: 2, "another owner")
        },
        ConformanceCase("several-limits", "keyless throttles") { backend in
            let perIP = Limit(name: "anon", strategy: .gcra, quantity: 2, windowMicroseconds: 1_000_000, subject: .custom("ip"))
            let global = Limit(name: "all", strategy: .fixedWindow, quantity: 3, windowMicroseconds: 60_000_000, subject: .global)
            for remaining in [UInt64(1), 0] {
                try expectDecision(try await backend.throttle([perIP, global], subjects: ["ip": "a"], cost: 1), .allowed, limit: "anon", remaining: remaining, "from a")
            }
            let refused = try await backend.throttle([perIP, global], subjects: ["ip": "a"], cost: 1)
            try expectDecision(refused, .rateLimited, limit: "all", remaining: 1, "a over its own limit: the global one keeps its unit")
            try expect(refused.retryAfter, 500_000, "retry after half a second (2 per second)")
            try expectDecision(try await backend.throttle([perIP, global], subjects: ["ip": "b"], cost: 1), .allowed, limit: "all", remaining: 0, "from b")
            try expectDecision(try await backend.throttle([perIP, global], subjects: ["ip": "c"], cost: 1), .rateLimited, limit: "anon", remaining: 2, "from c, the global limit spent")
        },
    ]
}
