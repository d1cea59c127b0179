public import HTTPTypes
public import Tollgate

/// What a route costs and needs: the cost charged against every limit and the credits, the
/// scope the key must grant, and limits of the route on top of the key's tier (by client IP,
/// user, route, key or globally).
public struct RoutePolicy: Sendable, Hashable {
    public var cost: UInt64
    public var scope: String?
    /// Checked and consumed in the same transaction as the tier's limits. Subjects the
    /// middleware supplies: `ip` (the client address), `route` (`GET /reports/{id}`), `user`
    /// (from ``TollgateConfiguration/userSubject``).
    public var limits: [Limit]
    /// No key needed and nothing counted (health checks, public pages).
    public var isExempt: Bool

    public init(cost: UInt64 = 1, scope: String? = nil, limits: [Limit] = []) {
        self.cost = cost
        self.scope = scope
        self.limits = limits
        self.isExempt = false
    }

    /// Cost 1, no scope, the tier's limits only.
    public static let standard = RoutePolicy()

    /// No key needed, nothing counted.
    public static let exempt: RoutePolicy = {
        var policy = RoutePolicy()
        policy.isExempt = true
        return policy
    }()
}

/// Which ``RoutePolicy`` applies to a request: the policy of its exact route (and method), else
/// of the longest route-group prefix that contains it, else the default. Routes are matched by
/// the router's path template (`/items/{id}`), not the concrete URL, so one route is one entry.
public struct RoutePolicies: Sendable {
    public var `default`: RoutePolicy
    private var exact: [String: [HTTPRequest.Method?: RoutePolicy]] = [:]
    private var prefixes: [(components: [Substring], policy: RoutePolicy)] = []

    public init(default policy: RoutePolicy = .standard) {
        self.default = policy
    }

    /// The policy of one route; `method: nil` for every method of the path.
    public mutating func set(_ path: String, method: HTTPRequest.Method? = nil, _ policy: RoutePolicy) {
        exact[Self.normalized(path), default: [:]][method] = policy
    }

    /// The policy of every route under `prefix` (a route group), unless a route has its own.
    public mutating func setGroup(_ prefix: String, _ policy: RoutePolicy) {
        let components = Self.components(prefix)
        prefixes.removeAll { $0.components == components }
        prefixes.append((components, policy))
        prefixes.sort { $0.components.count > $1.components.count }
    }

    /// The policy for a request to `endpoint` (the router's path template) with `method`.
    ///
    /// `HEAD` without a policy of its own takes the `GET` route's: with Hummingbird's
    /// `.autoGenerateHeadEndpoints` the GET responder (its handler included) answers it, so it must
    /// need the same scope and cost the same.
    public func policy(method: HTTPRequest.Method, endpoint: String?) -> RoutePolicy {
        guard let endpoint else { return self.default }
        if let byMethod = exact[Self.normalized(endpoint)],
           let policy = byMethod[method] ?? (method == .head ? byMethod[.get] : nil) ?? byMethod[nil] {
            return policy
        }
        let components = Self.components(endpoint)
        for entry in prefixes where components.starts(with: entry.components) {
            return entry.policy
        }
        return self.default
    }

    private static func components(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    private static func normalized(_ path: String) -> String {
        "/" + components(path).joined(separator: "/")
    }
}
