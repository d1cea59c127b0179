public import Hummingbird
public import NIOCore
public import Tollgate
public import TollgateHTTP

/// A request context that carries what ``TollgateMiddleware`` learned about the request.
///
/// Conform your own context by adding `var tollgate = TollgateRequestState()` and the
/// connection's `remoteAddress` (see ``TollgateContext``), or use ``TollgateContext`` as it is.
public protocol TollgateRequestContext: RemoteAddressRequestContext {
    var tollgate: TollgateRequestState { get set }
}

/// What the middleware hands to handlers.
public struct TollgateRequestState: Sendable {
    /// The admitted request's decision: limits, remaining quota, credits.
    public internal(set) var decision: Decision?
    /// The key that was verified: id, owner, tier, scopes. `nil` on exempt routes and when the
    /// store failed and the middleware is configured to fail open.
    public var identity: Decision.KeyIdentity? { decision?.key }
    /// The client's address as resolved through the trusted proxies.
    public internal(set) var clientAddress: IPAddress?
    /// `true` when the store failed and the request was let through unchecked (fail-open).
    public internal(set) var failedOpen = false

    public init() {}
}

/// A ready-made ``TollgateRequestContext``: Hummingbird's basic context plus the connection's
/// remote address and Tollgate's state.
public struct TollgateContext: TollgateRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var tollgate = TollgateRequestState()
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
