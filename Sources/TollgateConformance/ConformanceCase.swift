import Tollgate

/// One conformance case: a name for the test list and what it does to a fresh backend. It
/// throws ``ConformanceFailure`` when the backend answers otherwise than the semantics in
/// Docs/decisions.md ("Semantics the conformance suite pins").
public struct ConformanceCase: Sendable, Identifiable, CustomStringConvertible {
    /// `group/name`, unique.
    public var id: String
    public var run: @Sendable (any ConformanceBackend) async throws -> Void

    public init(_ group: String, _ name: String, _ run: @escaping @Sendable (any ConformanceBackend) async throws -> Void) {
        id = group + "/" + name
        self.run = run
    }

    public var description: String { id }

    /// Runs the case on a fresh backend from `factory` and closes it, also when the case fails.
    public func run(on factory: BackendFactory) async throws {
        let backend = try await factory.make()
        do {
            try await run(backend)
        } catch {
            await backend.close()
            throw error
        }
        await backend.close()
    }
}

/// Every case, by group (one file per group under Cases/).
public enum ConformanceCases {
    public static let all: [ConformanceCase] =
        WindowEdgeCases.all + CostCases.all + CreditCases.all + KeyLifecycleCases.all + TierEditCases.all
        + RefundCases.all + SeveralLimitsCases.all + UsageCases.all + ConcurrencyCases.all + DifferentialCases.all
}

/// What most cases start from: one tier, one key on it.
struct Scene: Sendable {
    var backend: any ConformanceBackend
    var key: ConformanceKey

    static func make(
        _ backend: any ConformanceBackend, limits: [Limit], scopes: [String] = [], expiresAt: Timestamp? = nil,
        credits: UInt64? = nil, refill: CreditRefill? = nil
    ) async throws -> Scene {
        try await backend.setTier(Tier(name: "conformance", limits: limits))
        let key = try await backend.createKey(NewKey(
            owner: "acme", tier: "conformance", scopes: scopes, expiresAt: expiresAt, credits: credits, refill: refill))
        return Scene(backend: backend, key: key)
    }

    func request(cost: UInt64 = 1, scope: String? = nil, subjects: [String: String] = [:], additionalLimits: [Limit] = []) -> AuthorizationRequest {
        AuthorizationRequest(key: key.secret, cost: cost, scope: scope, subjects: subjects, additionalLimits: additionalLimits)
    }

    func authorize(cost: UInt64 = 1, scope: String? = nil, subjects: [String: String] = [:]) async throws -> Decision {
        try await backend.authorize(request(cost: cost, scope: scope, subjects: subjects))
    }

    func peek(cost: UInt64 = 1) async throws -> Decision {
        try await backend.peek(request(cost: cost))
    }

    func advance(_ microseconds: Int64) async { await backend.advance(microseconds: microseconds) }

    /// Today's usage-ledger entry of the scene's key (zeros when it has none).
    func usageToday() async throws -> DailyUsage {
        let day = (await backend.now()).microseconds / 86_400_000_000
        return try await backend.usage(keyID: key.id).first { $0.day == day } ?? DailyUsage(day: day, allowed: 0, denied: 0, consumed: 0)
    }
}

extension Decision {
    /// The status of the limit called `name`, or a failure naming the limits there are.
    func limit(_ name: String, file: StaticString = #fileID, line: UInt = #line) throws(ConformanceFailure) -> Decision.LimitStatus {
        guard let status = limits.first(where: { $0.name == name }) else {
            throw ConformanceFailure("no limit \(name) in the decision (limits: \(limits.map(\.name)))", file: file, line: line)
        }
        return status
    }

    /// One line for a failure message.
    var summary: String {
        "\(outcome) at \(at.microseconds) µs, limits [" + limits.map { "\($0.name): remaining \($0.remaining), reset \($0.resetAfter), retry \($0.retryAfter)\($0.allowed ? "" : ", refused")" }.joined(separator: "; ")
            + "], credits \(creditsRemaining.map(String.init) ?? "-"), retryAfter \(retryAfter.map(String.init) ?? "-")"
    }
}

/// Checks a decision's outcome, and for one limit its remaining, reset and retry-after.
func expectDecision(
    _ decision: Decision, _ outcome: Decision.Outcome, limit name: String? = nil, remaining: UInt64? = nil,
    resetAfter: Int64? = nil, retryAfter: Int64? = nil, _ context: String, file: StaticString = #fileID, line: UInt = #line
) throws(ConformanceFailure) {
    try check(decision.outcome == outcome, "\(context): expected \(outcome), got \(decision.summary)", file: file, line: line)
    guard let name else { return }
    let status = try decision.limit(name, file: file, line: line)
    if let remaining { try check(status.remaining == remaining, "\(context): \(name) remaining should be \(remaining); \(decision.summary)", file: file, line: line) }
    if let resetAfter { try check(status.resetAfter == resetAfter, "\(context): \(name) resetAfter should be \(resetAfter); \(decision.summary)", file: file, line: line) }
    if let retryAfter { try check(status.retryAfter == retryAfter, "\(context): \(name) retryAfter should be \(retryAfter); \(decision.summary)", file: file, line: line) }
}
