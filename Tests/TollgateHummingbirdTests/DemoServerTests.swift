import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import TollgateTestSupport

/// The real `tollgate-demo` executable, started as a child process and spoken to over loopback.
final class DemoProcess: Sendable {
    let process: Process
    private let output = OutputBuffer()

    final class OutputBuffer: Sendable {
        let text = Mutex("")
    }

    static var binary: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("tollgate-demo")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/tollgate-demo")
    }

    init(data: String) throws {
        process = Process()
        process.executableURL = Self.binary
        process.arguments = ["--data", data, "--port", "0", "--log-level", "warning"]
        var environment = ProcessInfo.processInfo.environment
        environment["TOLLGATE_PEPPER"] = nil
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [output] handle in
            let data = handle.availableData
            output.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    var stdout: String { output.text.withLock { $0 } }

    /// Waits for the "Listening on http://127.0.0.1:PORT" line.
    func port() async throws -> Int {
        for _ in 0..<600 {
            if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("Listening on ") }),
               let port = line.split(separator: ":").last.flatMap({ Int($0) }) {
                return port
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DemoError.didNotStart(stdout)
    }

    func key(tier: String) -> String? {
        stdout.split(separator: "\n").first { $0.hasPrefix("  \(tier): ") }.map { String($0.split(separator: " ").last!) }
    }

    func signal(_ signal: Int32) -> Int32 {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
    }

    enum DemoError: Error { case didNotStart(String) }
}

@Suite("Demo server executable", .serialized)
struct DemoServerTests {
    func get(_ client: TestClient, _ uri: String, _ pairs: [(String, String)] = []) async throws -> TestClient.Response {
        try await client.get(uri, headers: headers(pairs))
    }

    /// The free tier's `minute=5/minute` is a fixed window on the wall-clock UTC minute (the demo
    /// has no clock to inject): a run that straddles a minute boundary sees its count reset and the
    /// remaining/429 checks fail for no reason. So the window-sensitive part starts only when the
    /// current minute has `room` left, and the minute it ran in is returned to be checked at its end.
    static func minuteWithRoom(_ room: Duration) async throws -> Int64 {
        let millisecondsIntoMinute = Int64(Date().timeIntervalSince1970 * 1000) % 60_000
        let left = Duration.milliseconds(60_000 - millisecondsIntoMinute)
        if left < room { try await Task.sleep(for: left + .milliseconds(100)) }
        return Int64(Date().timeIntervalSince1970) / 60
    }

    static var currentMinute: Int64 { Int64(Date().timeIntervalSince1970) / 60 }

    @Test(.timeLimit(.minutes(3)))
    func printsKeysThatWorkAndLimitsThemAcrossAKill() async throws {
        let directory = TemporaryStore.makeDirectory(prefix: "tollgate-demo")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = directory + "/store"

        let first = try DemoProcess(data: data)
        let port = try await first.port()
        let free = try #require(first.key(tier: "free"))
        let pro = try #require(first.key(tier: "pro"))
        #expect(first.stdout.contains("curl -i -H 'X-API-Key: \(free)' http://127.0.0.1:\(port)/items"))
        let minute = try await Self.minuteWithRoom(.seconds(30))
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            let health = try await self.get(client, "/health")
            #expect(health.status == .ok)
            for remaining in (0..<5).reversed() {
                let response = try await self.get(client, "/items", [("X-API-Key", free)])
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("RateLimit")!]?.hasPrefix("\"minute\";r=\(remaining);") == true)
                #expect(response.headers[HTTPField.Name("RateLimit-Policy")!] == "\"minute\";q=5;w=60, \"day\";q=1000;w=86400, \"items-per-ip\";q=120;w=60")
            }
            let limited = try await self.get(client, "/items", [("X-API-Key", free)])
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[HTTPField.Name("Retry-After")!] != nil)
            #expect(limited.headers[.contentType] == "application/problem+json")
            #expect(String(buffer: limited.body ?? ByteBuffer()).contains("\"violated-policies\":[\"minute\"]"))
            #expect(try await self.get(client, "/reports", [("X-API-Key", free)]).status == .forbidden)
            #expect(try await self.get(client, "/reports", [("Authorization", "Bearer \(pro)")]).status == .ok)
            #expect(try await self.get(client, "/items").status == .badRequest)
        }
        // kill -9: every answered decision was committed (durable mode) and survives.
        _ = first.signal(SIGKILL)

        let second = try DemoProcess(data: data)
        let port2 = try await second.port()
        #expect(second.key(tier: "free") == nil, "keys are printed once, when the store is new")
        try await TestClient.withClient(host: "127.0.0.1", port: port2) { client in
            let response = try await self.get(client, "/items", [("X-API-Key", free)])
            #expect(response.status == .tooManyRequests)
            #expect(try await self.get(client, "/items", [("X-API-Key", pro)]).status == .ok)
        }
        #expect(Self.currentMinute == minute, "the run outlasted the 30 s it was given in one minute window: the checks above are void")
        #expect(second.signal(SIGTERM) == 0, "a graceful shutdown on SIGTERM")
    }
}
