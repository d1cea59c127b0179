public import Hummingbird
import HTTPTypes
import Logging
import Metrics
import NIOCore
public import Tollgate
import TollgateHTTP

/// Verifies the request's API key and checks and consumes every limit of its tier and its route
/// in one store transaction, then lets the request through with the key's identity in
/// `context.tollgate` — or answers 400/401/403/429/503 with an RFC 9457 problem.
///
/// It decides through any ``Authorizer``: the embedded `Store` (``init(store:configuration:policies:)``),
/// a remote backend, or a test double (``init(authorizer:configuration:policies:)``). Generic rather
/// than `any Authorizer`: a middleware over a `Store` holds the store itself, and where the compiler
/// specializes it calls the store's entry points without a witness table.
///
/// Add it once per route: on the router (every route added after it), or on a route group.
/// Per-route costs, scopes and extra limits come from its ``RoutePolicies``; a request must not
/// pass two of these middlewares (it would be charged twice — the second one answers 500).
///
/// ```swift
/// var policies = RoutePolicies()
/// policies.set("/reports", RoutePolicy(cost: 5, scope: "reports:read"))
/// policies.set("/health", .exempt)
/// router.add(middleware: TollgateMiddleware(store: store, policies: policies))
/// ```
public struct TollgateMiddleware<Context: TollgateRequestContext, Decider: Authorizer>: RouterMiddleware {
    public let authorizer: Decider
    public let configuration: TollgateConfiguration
    public let policies: RoutePolicies
    private let blockedClients = BlockedClients()
    private let metrics: DecisionMetrics

    public init(authorizer: Decider, configuration: TollgateConfiguration = .init(), policies: RoutePolicies = .init()) {
        self.authorizer = authorizer
        self.configuration = configuration
        self.policies = policies
        self.metrics = DecisionMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory)
    }

    /// With one policy for every route this middleware covers (a route group's).
    public init(authorizer: Decider, configuration: TollgateConfiguration = .init(), policy: RoutePolicy) {
        self.init(authorizer: authorizer, configuration: configuration, policies: RoutePolicies(default: policy))
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let policy = policies.policy(method: request.method, endpoint: context.endpointPath)
        if policy.isExempt { return try await next(request, context) }
        guard context.tollgate.decision == nil, !context.tollgate.failedOpen else {
            context.logger.error("a request passed two TollgateMiddleware instances; add it once per route and use RoutePolicies")
            return problemResponse(HTTPProblem(status: 500, title: "Internal Server Error", detail: "Rate limiting is misconfigured."))
        }
        let started = ContinuousClock.now
        var context = context
        let client: IPAddress?
        do {
            client = try clientAddress(request, context)
        } catch {
            // Counting it as the proxy would put every such client in one shared bucket.
            metrics.record(.badRequest, since: started)
            context.logger.notice("request refused: its client address cannot be resolved", metadata: ["tollgate.reason": .string(error.reason.rawValue)])
            return problemResponse(.unresolvableClient(error))
        }
        context.tollgate.clientAddress = client
        // No address (a Unix socket, an in-memory test channel): one shared `unknown` client.
        let clientSubject = client?.subjectValue(ipv6PrefixLength: configuration.ipv6PrefixLength) ?? "unknown"

        // A client over its failed-verification budget is refused before any work for its key.
        if let blocked = blockedClients.refusal(for: clientSubject, at: authorizer.now()) {
            metrics.record(.blockedClient, since: started)
            return problemResponse(.tooManyFailures(blocked), headers: retryHeaders(blocked))
        }

        let key: String
        switch credential(in: request) {
        case .missing:
            metrics.record(.missingKey, since: started)
            return problemResponse(.missingKey(status: configuration.missingKeyStatus), challenge: configuration.missingKeyStatus == .unauthorized)
        case .malformed(let reason):
            metrics.record(.malformedCredential, since: started)
            return try await failedVerification(.malformedCredential(reason), client: clientSubject, context: context)
        case .key(let presented):
            key = presented
        }

        var subjects = ["ip": clientSubject]
        if let endpoint = context.endpointPath { subjects["route"] = "\(request.method) \(endpoint)" }
        if let user = configuration.userSubject?(request) { subjects["user"] = user }
        // The failed-verification budget is checked and counted in the decision's own transaction:
        // counted after the decision, any number of concurrent guesses would be looked up before
        // the first was counted. The store holds it, so a client refused by another process (or
        // before a restart) is refused here too.
        let budget = configuration.failedVerificationLimits.isEmpty
            ? nil : FailureBudget(limits: configuration.failedVerificationLimits, subjects: ["ip": clientSubject])
        let authorization = AuthorizationRequest(
            key: key, cost: policy.cost, scope: policy.scope, subjects: subjects, additionalLimits: policy.limits, failureBudget: budget)

        let decision: Decision
        do {
            decision = try await authorizer.authorize(authorization, timeout: configuration.timeout)
        } catch let error where error.code == .missingSubject || error.code == .invalidArgument {
            metrics.record(.badRequest, since: started)
            context.logger.notice("request refused: \(error.message)")
            return problemResponse(HTTPProblem(status: 400, title: "Bad Request", detail: error.message))
        } catch {
            return try await storeFailed(error, request: request, context: context, started: started, next: next)
        }
        if decision.refusedBeforeLookup {
            metrics.record(.blockedClient, since: started)
            return blocked(clientSubject, decision, context: context)
        }
        metrics.record(decision.outcome, since: started)

        guard decision.isAllowed else {
            context.logger.debug("request refused", metadata: [
                "tollgate.outcome": .string(decision.outcome.rawValue), "tollgate.key": .string(decision.key?.id ?? "-"),
            ])
            let problem = HTTPProblem(decision)!
            if decision.outcome == .malformedKey {
                // Answered before any transaction: counted separately.
                return try await failedVerification(problem, client: clientSubject, context: context)
            }
            return problemResponse(problem, headers: headers(for: decision), challenge: problem.status == 401)
        }
        context.tollgate.decision = decision
        var response = try await next(request, context)
        for header in headers(for: decision) {
            if let name = HTTPField.Name(header.name) { response.headers[name] = header.value }
        }
        return response
    }

    // MARK: Pieces

    private func clientAddress(_ request: Request, _ context: Context) throws(ClientAddress.UnresolvableClient) -> IPAddress? {
        let peer = context.remoteAddress?.ipAddress.flatMap { IPAddress($0) as IPAddress? }
        guard let peer, configuration.trustedProxies.trusts(peer) else { return peer }
        switch configuration.trustedProxies.header {
        case .none:
            return peer
        case .xForwardedFor:
            return try ClientAddress.resolve(
                peer: peer, xForwardedFor: request.headers[values: .xForwardedFor], trusting: configuration.trustedProxies)
        case .forwarded:
            return try ClientAddress.resolve(peer: peer, forwarded: request.headers[values: .forwarded], trusting: configuration.trustedProxies)
        }
    }

    private func credential(in request: Request) -> PresentedCredential {
        var found = PresentedCredential.missing
        for source in configuration.keySources {
            let credential: PresentedCredential
            switch source {
            case .header(let name):
                guard let field = HTTPField.Name(name) else { continue }
                credential = .fromKeyHeader(request.headers[values: field])
            case .bearer:
                credential = .fromAuthorization(request.headers[values: .authorization])
            case .queryParameter(let name):
                let values = request.uri.queryParameters.getAll(name).map { String($0) }
                credential = .fromKeyHeader(values)
            }
            switch (found, credential) {
            case (_, .missing): continue
            case (.missing, _): found = credential
            case (.key(let a), .key(let b)) where a == b: continue
            default: return .malformed(.ambiguous)
            }
        }
        return found
    }

    /// Counts a failed verification that needed no lookup (a malformed credential or key)
    /// against the client's budget, then answers the refusal.
    private func failedVerification(_ problem: HTTPProblem, client: String, context: Context) async throws -> Response {
        let challenge = problem.status == 401
        guard !configuration.failedVerificationLimits.isEmpty else { return problemResponse(problem, challenge: challenge) }
        do {
            let counted = try await authorizer.throttle(
                configuration.failedVerificationLimits, subjects: ["ip": client], cost: 1, at: nil, timeout: configuration.timeout)
            if !counted.isAllowed { return blocked(client, counted, context: context) }
        } catch {
            // The refusal stands either way; only the counting failed.
            context.logger.error("could not count a failed key verification: \(error)")
        }
        return problemResponse(problem, challenge: challenge)
    }

    /// Remembers that the store refused the client's budget, and answers 429.
    private func blocked(_ client: String, _ refusal: Decision, context: Context) -> Response {
        blockedClients.block(client, decision: refusal, at: refusal.at)
        context.logger.notice("client over its failed key verification budget", metadata: ["tollgate.client": .string(client)])
        return problemResponse(.tooManyFailures(refusal), headers: retryHeaders(refusal))
    }

    private func storeFailed(
        _ error: TollgateError, request: Request, context: Context, started: ContinuousClock.Instant,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        switch configuration.failureMode {
        case .closed:
            metrics.record(.storeFailure, since: started)
            context.logger.error("rate limiting unavailable, request refused (fail-closed): \(error)")
            return problemResponse(.unavailable, headers: [Decision.Header(name: "Retry-After", value: "1")])
        case .open:
            metrics.record(.failedOpen, since: started)
            context.logger.error("rate limiting unavailable, request let through unchecked (fail-open): \(error)")
            var context = context
            context.tollgate.failedOpen = true
            return try await next(request, context)
        }
    }

    private func headers(for decision: Decision) -> [Decision.Header] {
        var headers = decision.rateLimitHeaders(legacy: configuration.legacyHeaders)
        if configuration.retryAfterJitterSeconds > 0, let index = headers.firstIndex(where: { $0.name == "Retry-After" }),
           let seconds = Int64(headers[index].value) {
            headers[index].value = String(seconds + Int64.random(in: 0...configuration.retryAfterJitterSeconds))
        }
        return headers
    }

    private func retryHeaders(_ decision: Decision) -> [Decision.Header] {
        headers(for: decision).filter { $0.name == "Retry-After" }
    }

    private func problemResponse(_ problem: HTTPProblem, headers: [Decision.Header] = [], challenge: Bool = false) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = HTTPProblem.contentType
        fields[.cacheControl] = "no-store"
        for header in headers {
            if let name = HTTPField.Name(header.name) { fields[name] = header.value }
        }
        if challenge {
            for source in configuration.keySources {
                switch source {
                case .bearer: fields.append(HTTPField(name: .wwwAuthenticate, value: "Bearer realm=\"\(configuration.realm)\""))
                case .header(let name):
                    fields.append(HTTPField(name: .wwwAuthenticate, value: "APIKey realm=\"\(configuration.realm)\", header=\"\(name)\""))
                case .queryParameter(let name):
                    fields.append(HTTPField(name: .wwwAuthenticate, value: "APIKey realm=\"\(configuration.realm)\", query=\"\(name)\""))
                }
            }
        }
        return Response(
            status: HTTPResponse.Status(code: problem.status), headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(string: problem.json)))
    }
}

/// The embedded store as the authorizer: what most servers use.
extension TollgateMiddleware where Decider == Store {
    public var store: Store { authorizer }

    public init(store: Store, configuration: TollgateConfiguration = .init(), policies: RoutePolicies = .init()) {
        self.init(authorizer: store, configuration: configuration, policies: policies)
    }

    /// With one policy for every route this middleware covers (a route group's).
    public init(store: Store, configuration: TollgateConfiguration = .init(), policy: RoutePolicy) {
        self.init(authorizer: store, configuration: configuration, policies: RoutePolicies(default: policy))
    }
}

extension HTTPField.Name {
    static let forwarded = HTTPField.Name("Forwarded")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
