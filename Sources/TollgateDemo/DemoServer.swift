import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Tollgate
import TollgateHTTP
import TollgateHummingbird

/// The README's main job: a small API on an embedded Tollgate store.
@main
struct DemoServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tollgate-demo",
        abstract: "A sample API rate-limited by an embedded Tollgate store.",
        discussion: """
        Opens (or creates) the store in --data. A new store is seeded with a `free` and a `pro` \
        tier and one key of each; the keys are printed once, with curl lines to try. Routes: \
        GET /health (no key), GET /items (cost 1, scope items:read, also 120/minute per client IP), \
        GET /reports (cost 5, scope reports:read), GET /whoami (cost 0).
        """)

    @Option(help: "The store's directory.")
    var data = "tollgate-data"
    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"
    @Option(help: "The port to listen on (0: any free port).")
    var port = 8080
    @Option(help: "durable: every decision synced before it is answered; periodic: synced every 100 ms.")
    var durability: DurabilityChoice = .durable
    @Option(name: .customLong("trusted-proxy"), help: "A proxy (CIDR) whose --proxy-header is believed; repeatable.")
    var trustedProxies: [String] = []
    @Option(help: "The one header the trusted proxies append the client to: x-forwarded-for, forwarded, or none.")
    var proxyHeader: ProxyHeaderChoice = .xForwardedFor
    @Option(help: "How many entries at the right of --proxy-header the trusted proxies append (1-32).")
    var proxyHops = 1
    @Flag(help: "Also send X-RateLimit-Limit/Remaining/Reset.")
    var legacyHeaders = false
    @Option(help: "Log level (trace, debug, info, notice, warning, error).")
    var logLevel: String = "info"

    enum DurabilityChoice: String, ExpressibleByArgument, CaseIterable {
        case durable, periodic
    }

    enum ProxyHeaderChoice: String, ExpressibleByArgument, CaseIterable {
        case xForwardedFor = "x-forwarded-for", forwarded, none
    }

    func run() async throws {
        var logger = Logger(label: "tollgate-demo")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        // The demo's own folder: create its parents too (the store creates only its own directory).
        let parent = URL(fileURLWithPath: data).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        var options = Store.Options(path: data)
        options.durability = durability == .durable ? .durable : .periodic(interval: .milliseconds(100))
        options.pepper = try Pepper.fromEnvironment()
        let store = try Store(options: options)
        defer { store.close() }
        let seeded = try Self.seed(store)

        var configuration = TollgateConfiguration()
        configuration.keySources = [.apiKeyHeader, .bearer]
        let header: TrustedProxies.ForwardingHeader = switch proxyHeader {
        case .xForwardedFor: .xForwardedFor(trustedHops: proxyHops)
        case .forwarded: .forwarded(trustedHops: proxyHops)
        case .none: .none
        }
        configuration.trustedProxies = try TrustedProxies(trustedProxies, header: header)
        configuration.legacyHeaders = legacyHeaders

        let app = Application(
            router: try Self.router(deciding: store, configuration: configuration),
            configuration: .init(address: .hostname(host, port: port), serverName: "tollgate-demo"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                Self.announce(seeded, host: host, port: port, store: data)
            },
            logger: logger)
        try await app.runService()
    }

    /// The demo's routes behind the middleware. Only seeding needs the store itself: the routes
    /// decide through any ``Authorizer``, so they would run unchanged on a remote backend.
    static func router<Decider: Authorizer>(deciding authorizer: Decider, configuration: TollgateConfiguration) throws -> Router<TollgateContext> {
        var policies = RoutePolicies()
        policies.set("/health", .exempt)
        policies.set("/items", RoutePolicy(cost: 1, scope: "items:read", limits: [try Limit(spec: "items-per-ip=120/minute,by=ip")]))
        policies.set("/reports", RoutePolicy(cost: 5, scope: "reports:read"))
        policies.set("/whoami", RoutePolicy(cost: 0))

        let router = Router(context: TollgateContext.self)
        router.add(middleware: TollgateMiddleware(authorizer: authorizer, configuration: configuration, policies: policies))
        router.get("/health") { _, _ in "ok\n" }
        router.get("/items") { _, context in
            Self.json(["items": ["apple", "pear", "plum"], "owner": context.tollgate.identity?.owner ?? "-"])
        }
        router.get("/reports") { _, context in
            Self.json(["report": "quarterly", "owner": context.tollgate.identity?.owner ?? "-"])
        }
        router.get("/whoami") { _, context in
            let identity = context.tollgate.identity
            return Self.json([
                "key_id": identity?.id ?? "-", "owner": identity?.owner ?? "-", "tier": identity?.tier ?? "-",
                "scopes": identity?.scopes ?? [], "client": context.tollgate.clientAddress?.description ?? "-",
            ])
        }
        return router
    }

    /// Tiers and one key of each, only in a store that has no keys yet.
    static func seed(_ store: Store) throws -> [(tier: String, key: IssuedKey)] {
        guard try store.allKeys(limit: 1).isEmpty else { return [] }
        if try store.tier(named: "free") == nil {
            try store.setTier(Tier(name: "free", limits: [try Limit(spec: "minute=5/minute"), try Limit(spec: "day=1000/day")]))
        }
        if try store.tier(named: "pro") == nil {
            try store.setTier(Tier(name: "pro", limits: [
                try Limit(spec: "second=20/second:token-bucket,burst=40"), try Limit(spec: "day=100000/day"),
            ]))
        }
        let free = try store.createKey(NewKey(owner: "demo-free", tier: "free", name: "demo", scopes: ["items:read"]))
        let pro = try store.createKey(NewKey(owner: "demo-pro", tier: "pro", name: "demo", scopes: ["items:read", "reports:read"]))
        return [("free", free), ("pro", pro)]
    }

    static func announce(_ seeded: [(tier: String, key: IssuedKey)], host: String, port: Int, store: String) {
        var lines: [String] = []
        let base = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        if seeded.isEmpty {
            lines.append("Store \(store) already has keys; create one with: tollgate --store \(store) key create --tier free --owner you --scope items:read")
        } else {
            lines.append("Seeded a new store in \(store). These keys are shown once — copy them now:")
            for (tier, key) in seeded {
                lines.append("  \(tier): \(key.secret)")
            }
            let free = seeded[0].key.secret, pro = seeded[1].key.secret
            lines.append("")
            lines.append("Try (the free tier allows 5 requests a minute; the 6th answers 429):")
            lines.append("  curl -i -H 'X-API-Key: \(free)' \(base)/items")
            lines.append("  curl -i -H 'Authorization: Bearer \(pro)' \(base)/reports")
            lines.append("  curl -i -H 'X-API-Key: \(free)' \(base)/reports      # 403: the free key lacks reports:read")
            lines.append("  curl -i \(base)/items                                  # 400: no key")
        }
        lines.append("Listening on \(base)")
        // Unbuffered: whoever reads the pipe (a test, a script) sees the lines at once.
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    static func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }
}
