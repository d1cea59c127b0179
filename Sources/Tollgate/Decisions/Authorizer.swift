/// What an integration needs of whatever decides its requests: the embedded ``Store``, a remote
/// backend, or a test double that answers scripted decisions without any store.
///
/// The Hummingbird middleware, the demo and the CLI's `authorize` and `peek` are written against
/// this protocol, so they run unchanged on any conformer. Everything else a store does (keys,
/// tiers, refunds, inspection) is administration and stays on the concrete type.
///
/// A conformer must keep the semantics the store documents: `authorize` and `throttle` check and
/// consume all of their limits or nothing; a refusal by a limit is a ``Decision`` (`rateLimited`),
/// never an error; errors are ``TollgateError``s with the store's codes (`timedOut` when the
/// `timeout` passed, `invalidArgument` and `missingSubject` for a request that can never be
/// decided — the middleware answers those 400 and every other code by its failure mode).
public protocol Authorizer: Sendable {
    /// The time decisions are taken at when a request does not say (``AuthorizationRequest/at``
    /// is `nil`): integrations use it to age what they remember of earlier decisions.
    func now() -> Timestamp

    /// Verifies the request's key and checks and consumes every limit and the credits, all or
    /// nothing (``Store/authorize(_:timeout:)``). With a `timeout`, a decision not taken in time
    /// answers ``TollgateError/Code/timedOut``.
    func authorize(_ request: AuthorizationRequest, timeout: Duration?) async throws(TollgateError) -> Decision

    /// Checks and consumes keyless `limits` (by a caller-supplied subject or global), all or
    /// nothing (``Store/throttle(_:subjects:cost:at:timeout:)``).
    func throttle(
        _ limits: [Limit], subjects: [String: String], cost: UInt64, at: Timestamp?, timeout: Duration?
    ) async throws(TollgateError) -> Decision

    /// The decision ``authorize(_:timeout:)`` would take, consuming nothing (``Store/peek(_:)``).
    /// Asynchronous so that a remote backend can conform; the store's synchronous `peek` does.
    func peek(_ request: AuthorizationRequest) async throws(TollgateError) -> Decision
}

/// The embedded store is the reference authorizer: each requirement is the store's own entry
/// point of the same name, so code generic over `Authorizer` and specialized for `Store` calls
/// them directly.
extension Store: Authorizer {
    /// The store's clock (``Store/Options/clock``).
    public func now() -> Timestamp { clock.now() }
}

extension Decision {
    /// A decision another authorizer took: a remote backend's answer, or a test double's script.
    /// It carries no receipt, so ``Store/refund(_:at:)`` gives nothing back for it; a backend
    /// with refunds keeps its own.
    public init(
        outcome: Outcome, key: KeyIdentity? = nil, limits: [LimitStatus] = [], creditsRemaining: UInt64? = nil,
        cost: UInt64, at: Timestamp, keyRejection: KeyFormat.Rejection? = nil, refusedBeforeLookup: Bool = false
    ) {
        self.init(
            outcome: outcome, key: key, limits: limits, creditsRemaining: creditsRemaining, cost: cost, at: at,
            keyRejection: keyRejection, receipt: nil)
        self.refusedBeforeLookup = refusedBeforeLookup
    }
}
