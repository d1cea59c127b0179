public import Hummingbird
public import Metrics
public import Tollgate
public import TollgateHTTP

/// How ``TollgateMiddleware`` finds keys and clients, answers refusals and survives store failures.
public struct TollgateConfiguration: Sendable {
    /// Where keys are looked for, in order; a request presenting two different keys (in one place
    /// or two) is refused as ambiguous, the same key twice is one key, and an `Authorization`
    /// scheme other than `Bearer` is not a key. Default: the `X-API-Key` header only.
    public var keySources: [KeySource] = [.apiKeyHeader]
    /// The status for a request without any key: 400 (default) or 401.
    public var missingKeyStatus: HTTPProblem.MissingKeyStatus = .badRequest
    /// The realm named in `WWW-Authenticate` challenges.
    public var realm = "api"

    /// Proxies whose forwarding header (the one ``TrustedProxies/header`` names, with its number
    /// of trusted hops) is believed. Default: none — the client is the connection's peer. A
    /// request whose header cannot be resolved gets 400.
    public var trustedProxies: TrustedProxies = .none
    /// IPv6 clients are counted per network of this many bits (a subscriber usually holds a /64).
    public var ipv6PrefixLength = 64
    /// The `user` subject for limits `by=user`, e.g. a header set by your authentication layer.
    /// `nil`, or returning `nil`, leaves the subject out (a `by=user` limit then answers 400).
    public var userSubject: (@Sendable (Request) -> String?)?

    /// Also send `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`.
    public var legacyHeaders = false
    /// Up to this many seconds are added at random to `Retry-After`, so refused clients do not
    /// all come back in the same second.
    public var retryAfterJitterSeconds: Int64 = 0

    /// Failed key verifications (malformed, unknown, revoked, disabled or expired keys) are
    /// counted per client address against these limits; a client over them is refused with 429
    /// before its key is even looked at. The budget is checked and counted in the decision's own
    /// transaction (``FailureBudget``), so concurrent guesses are bounded too. Empty: no brute-force protection.
    public var failedVerificationLimits: [Limit] = [
        // 30 bad keys a minute, 300 an hour from one address: far above honest mistakes.
        Limit(name: "auth-failures", strategy: .slidingWindow, quantity: 30, windowMicroseconds: 60_000_000, subject: .custom("ip")),
        Limit(name: "auth-failures-hour", strategy: .fixedWindow, quantity: 300, windowMicroseconds: 3_600_000_000, subject: .custom("ip")),
    ]

    /// What to do when the store fails or does not answer within ``timeout``.
    public enum FailureMode: Sendable, Hashable {
        /// Refuse with 503 (default): no request goes unmetered.
        case closed
        /// Let the request through unchecked and log it: availability over metering.
        case open
    }
    public var failureMode: FailureMode = .closed
    /// The longest a request waits for its decision before the failure mode applies.
    public var timeout: Duration = .seconds(2)
    /// Where `tollgate_decisions` and `tollgate_decision_duration` go; `nil` (the default) means the
    /// process-wide `MetricsSystem.factory`. A middleware of its own lets a test (or one of several
    /// apps in a process) count only its own decisions.
    public var metricsFactory: (any MetricsFactory)?

    public init() {}
}
