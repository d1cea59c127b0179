import Tollgate

/// The key before any limit: rotation grace, revocation, expiry, scopes. A refusal of the key
/// consumes nothing.
enum KeyLifecycleCases {
    static let second: Int64 = 1_000_000
    static let minute = Limit(name: "minute", strategy: .fixedWindow, quantity: 100, windowMicroseconds: 60_000_000)

    static let all: [ConformanceCase] = [
        ConformanceCase("keys", "rotation grace") { backend in
            let scene = try await Scene.make(backend, limits: [minute])
            _ = try await scene.authorize()
            let rotated = try await backend.rotateKey(id: scene.key.id, grace: .seconds(10))
            try expect(rotated.id, scene.key.id, "a rotated key keeps its id")
            let new = Scene(backend: backend, key: rotated)
            try expectDecision(try await new.authorize(), .allowed, limit: "minute", remaining: 98, "the new secret shares the key's counters")
            await scene.advance(10 * second - 1)
            let old = try await scene.authorize()
            try expectDecision(old, .allowed, limit: "minute", remaining: 97, "the old secret 1 µs before the grace ends")
            try expect(old.key?.id, scene.key.id, "the old secret decides as the key")
            await scene.advance(1)
            try expectDecision(try await scene.authorize(), .revoked, "the old secret when the grace ends")
            try expectDecision(try await new.authorize(), .allowed, limit: "minute", remaining: 96, "the new secret after the grace; the refusal consumed nothing")
        },
        ConformanceCase("keys", "rotation without grace") { backend in
            let scene = try await Scene.make(backend, limits: [minute])
            let rotated = try await backend.rotateKey(id: scene.key.id, grace: .zero)
            let old = try await scene.authorize()
            try expectDecision(old, .unknownKey, "the old secret at once: forgotten, not revoked")
            try expect(old.key, nil, "an unknown key's decision names no key")
            try expectDecision(try await Scene(backend: backend, key: rotated).authorize(), .allowed, limit: "minute", remaining: 99, "the new secret")
        },
        ConformanceCase("keys", "revocation") { backend in
            let scene = try await Scene.make(backend, limits: [minute])
            let rotated = try await backend.rotateKey(id: scene.key.id, grace: .seconds(60))
            try await backend.revokeKey(id: scene.key.id)
            let refused = try await Scene(backend: backend, key: rotated).authorize()
            try expectDecision(refused, .revoked, "a revoked key")
            try expect(refused.key?.id, scene.key.id, "a revoked key's decision names the key")
            try expect(refused.limits.count, 0, "a refused key reports no limits")
            try expectDecision(try await scene.authorize(), .revoked, "its old secret within the grace")
            try expectDecision(try await backend.peek(Scene(backend: backend, key: rotated).request()), .revoked, "peek of a revoked key")
            try expect(try await backend.key(id: scene.key.id)?.state, .revoked, "the stored state")
            try expect(try await backend.counters().count, 0, "counters after refusals only")
        },
        ConformanceCase("keys", "expiry") { backend in
            let scene = try await Scene.make(backend, limits: [minute], expiresAt: ConformanceClock.start.adding(microseconds: 5 * second))
            await scene.advance(5 * second - 1)
            try expectDecision(try await scene.authorize(), .allowed, limit: "minute", remaining: 99, "1 µs before expiry")
            await scene.advance(1)
            try expectDecision(try await scene.authorize(), .expired, "at expiry")
            try expectDecision(try await scene.peek(), .expired, "peek at expiry")
        },
        ConformanceCase("keys", "scope refusal") { backend in
            let scene = try await Scene.make(backend, limits: [minute], scopes: ["items:read", "reports:*"])
            try expectDecision(try await scene.authorize(scope: "items:write"), .forbidden, "a scope the key lacks")
            try expectDecision(try await scene.authorize(scope: "items:read"), .allowed, limit: "minute", remaining: 99, "a granted scope; the refusal consumed nothing")
            try expectDecision(try await scene.authorize(scope: "reports:daily"), .allowed, limit: "minute", remaining: 98, "a wildcard scope")
            try expectDecision(try await scene.authorize(scope: "report"), .forbidden, "a prefix that the wildcard does not cover")
            try expectDecision(try await scene.authorize(), .allowed, "no scope needed")
        },
        ConformanceCase("keys", "unknown key") { backend in
            let scene = try await Scene.make(backend, limits: [minute])
            // Well-formed (prefix, length, checksum) but never issued by this backend.
            let unknown = try await backend.authorize(AuthorizationRequest(key: KeyFormat.default.generate()))
            try expectDecision(unknown, .unknownKey, "a well-formed key nobody issued")
            try expect(unknown.key, nil, "a decision for an unknown key names no key")
            var corrupted = Array(scene.key.secret.utf8)
            corrupted[corrupted.count - 10] = corrupted[corrupted.count - 10] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
            let malformed = try await backend.authorize(AuthorizationRequest(key: String(decoding: corrupted, as: UTF8.self)))
            try expectDecision(malformed, .malformedKey, "an issued key with one character changed (the checksum fails)")
            try expect(malformed.keyRejection, .badChecksum, "why it was rejected")
            try expectDecision(try await backend.authorize(AuthorizationRequest(key: "tg_live_nonsense")), .malformedKey, "a malformed key")
            try expectDecision(try await scene.authorize(), .allowed, limit: "minute", remaining: 99, "the real key; the refusals consumed nothing")
        },
    ]
}
