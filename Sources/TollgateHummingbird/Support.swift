import Metrics
import Tollgate

extension Decision {
    /// The same refusal seen `now` instead of at its own time: the waits shrink by the time passed.
    mutating func shiftRetry(to now: Timestamp) {
        let elapsed = max(0, now.microseconds(since: at))
        limits = limits.map { status in
            var status = status
            status.retryAfter = max(0, status.retryAfter - elapsed)
            status.resetAfter = max(0, status.resetAfter - elapsed)
            return status
        }
    }
}

/// swift-metrics for the middleware: `tollgate_decisions{outcome=…}` and `tollgate_decision_duration`.
/// No-ops until the application bootstraps a metrics backend (before creating the middleware).
final class DecisionMetrics: Sendable {
    enum Kind: Hashable, Sendable {
        case outcome(Decision.Outcome)
        case missingKey, malformedCredential, blockedClient, badRequest, storeFailure, failedOpen

        var label: String {
            switch self {
            case .outcome(let outcome): outcome.rawValue
            case .missingKey: "missingKey"
            case .malformedCredential: "malformedCredential"
            case .blockedClient: "blockedClient"
            case .badRequest: "badRequest"
            case .storeFailure: "storeFailure"
            case .failedOpen: "failedOpen"
            }
        }

        static let all: [Kind] = Decision.Outcome.allCases.map(Kind.outcome)
            + [.missingKey, .malformedCredential, .blockedClient, .badRequest, .storeFailure, .failedOpen]
    }

    private let counters: [Kind: Counter]
    private let duration: Metrics.Timer

    init(factory: any MetricsFactory) {
        var counters: [Kind: Counter] = [:]
        for kind in Kind.all { counters[kind] = Counter(label: "tollgate_decisions", dimensions: [("outcome", kind.label)], factory: factory) }
        self.counters = counters
        duration = Metrics.Timer(label: "tollgate_decision_duration", factory: factory)
    }

    func record(_ kind: Kind, since started: ContinuousClock.Instant) {
        counters[kind]?.increment()
        let elapsed = ContinuousClock.now - started
        duration.recordNanoseconds(elapsed.saturatingNanoseconds)
    }

    func record(_ outcome: Decision.Outcome, since started: ContinuousClock.Instant) {
        record(.outcome(outcome), since: started)
    }
}
