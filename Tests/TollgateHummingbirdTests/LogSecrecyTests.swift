import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
@testable import Tollgate
import TollgateHTTP
import TollgateHummingbird

/// Every line a logger is given, message and metadata rendered, at every level.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        var logger = Logger(label: "tollgate.test.capture") { _ in CapturingHandler(log: self) }
        logger.logLevel = .trace
        return logger
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let rendered = merged.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
            log.lines.withLock { $0.append("\(event.level) \(event.message) \(rendered) \(event.source)") }
        }
    }
}

/// The log is one of the places a presented key must never reach (Docs/hummingbird.md: "with key
/// ids, never keys"). The logger is handed to the application, not bootstrapped: swift-log's
/// bootstrap is process-wide and other suites log in parallel.
@Suite("Logs never carry a key")
struct LogSecrecyTests {
    func app(_ harness: Harness, _ configuration: TollgateConfiguration, _ log: CapturedLog) -> some ApplicationProtocol {
        let router = Router(context: TollgateContext.self)
        router.add(middleware: TollgateMiddleware(store: harness.store, configuration: configuration))
        Harness.routes(router)
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: log.logger)
    }

    @Test func aSessionOfRefusalsLogsNoKeyNorItsHash() async throws {
        let harness = try Harness()
        defer { harness.remove() }
        let log = CapturedLog()
        let revoked = try harness.key()
        try harness.store.revokeKey(id: revoked.info.id)
        let unknown = KeyFormat.default.generate()
        var broken = Array(harness.free.secret.utf8)
        broken[10] = broken[10] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
        let badChecksum = String(decoding: broken, as: UTF8.self)
        let garbage = "tg_" + String(harness.free.secret.dropFirst(3).reversed())
        var presented = [harness.free.secret, revoked.secret, unknown, badChecksum, garbage]

        var configuration = TollgateConfiguration()
        // Low enough that the session also trips the failed-verification budget and its notice.
        configuration.failedVerificationLimits = [try Limit(spec: "auth-failures=3/hour,by=ip")]
        configuration.keySources = [.apiKeyHeader, .bearer]
        try await app(harness, configuration, log).test(.router) { client in
            for _ in 0..<4 { _ = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(harness.free.secret), body: nil) }
            _ = try await client.executeRequest(uri: "/reports", method: .get, headers: apiKey(harness.free.secret), body: nil)
            for key in [revoked.secret, unknown, badChecksum, garbage, unknown] {
                _ = try await client.executeRequest(uri: "/items", method: .get, headers: apiKey(key), body: nil)
            }
            // Two different keys at once: refused as ambiguous.
            let ambiguous = headers([("X-API-Key", harness.free.secret), ("Authorization", "Bearer \(unknown)")])
            _ = try await client.executeRequest(uri: "/items", method: .get, headers: ambiguous, body: nil)
        }

        // Store failures, both failure modes: the error text is logged, the key must not be.
        let other = try harness.key()
        presented.append(other.secret)
        let closedApp = app(harness, TollgateConfiguration(), log)
        var open = TollgateConfiguration()
        open.failureMode = .open
        let openApp = app(harness, open, log)
        harness.store.close()
        try await closedApp.test(.router) { client in
            try await expectStatus(client, "/items", apiKey(other.secret), .serviceUnavailable)
        }
        try await openApp.test(.router) { client in
            try await expectStatus(client, "/items", apiKey(other.secret), .ok)
        }

        let lines = log.lines.withLock { $0 }
        #expect(lines.contains { $0.contains("fail-closed") } && lines.contains { $0.contains("fail-open") }, "\(lines)")
        #expect(lines.contains { $0.contains("request refused") }, "refusals were logged: \(lines)")
        let hasher = KeyHasher(scheme: .sha256, pepper: nil)
        for key in presented {
            let body = String(key.dropFirst(3))
            let hex = hasher.hash(key).bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
            // Counted, not shown: a failure message must not print the key either.
            let carryingKey = lines.filter { $0.contains(body) }.count
            let carryingHash = lines.filter { $0.lowercased().contains(hex) }.count
            #expect(carryingKey == 0, "\(carryingKey) of \(lines.count) logged lines carry a presented key")
            #expect(carryingHash == 0, "\(carryingHash) of \(lines.count) logged lines carry a key's hash")
        }
    }
}
