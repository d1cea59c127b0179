import Foundation
import Testing
import TollgateTestSupport

/// Runs the built `tollgate` binary, as swift-argument-parser's own tests do.
struct CLI {
    let store: String

    static var binary: URL {
        // The test bundle lives in .build/<config>/; so does the CLI.
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("tollgate")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/tollgate")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    @discardableResult
    func run(_ arguments: String..., stdin: String? = nil) throws -> Result {
        try run(arguments, stdin: stdin)
    }

    func json(_ arguments: String...) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try run(arguments + ["--json"], stdin: nil).stdout.utf8))
    }

    private func run(_ arguments: [String], stdin: String?) throws -> Result {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TOLLGATE_STORE"] = store
        environment["TOLLGATE_PEPPER"] = nil
        process.environment = environment
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }
}

@Suite(.serialized) struct CLITests {
    let directory = TemporaryStore.makeDirectory(prefix: "tollgate-cli")
    var cli: CLI { CLI(store: directory + "/store") }

    @Test func scriptInitTierKeyAuthorizeUntilLimited() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("init").status != 0, "a second init is refused")
        #expect(try cli.run("tier", "set", "free", "--limit", "2/second", "--limit", "day=100/day").status == 0)
        let bad = try cli.run("tier", "set", "bad", "--limit", "10/fortnight")
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("fortnight"))
        let created = try cli.run("key", "create", "--tier", "free", "--owner", "acme", "--scope", "items:read")
        #expect(created.status == 0)
        let secret = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.hasPrefix("tg_live_"))
        #expect(created.stderr.contains("only time"))
        #expect(try cli.run("authorize", secret).status == 0)
        #expect(try cli.run("authorize", "-", stdin: secret + "\n").status == 0)
        let limited = try cli.json("authorize", secret) as? [String: Any]
        #expect(limited?["outcome"] as? String == "rateLimited")
        #expect(limited?["allowed"] as? Bool == false)
        #expect((limited?["retry_after_seconds"] as? Double ?? 0) > 0)
        #expect(try cli.run("authorize", secret).status == 2)
        #expect(try cli.run("authorize", secret + "x").status == 3)
        #expect(try cli.run("authorize", secret, "--scope", "items:write").status == 3)
        #expect(try cli.run("peek", secret).status == 2)

        let keys = try cli.json("key", "list") as? [[String: Any]]
        #expect(keys?.count == 1)
        let id = try #require(keys?.first?["id"] as? String)
        let listing = try cli.run("key", "list")
        #expect(!listing.stdout.contains(secret), "no secret in listings")
        #expect(try cli.run("key", "revoke", id).status == 0)
        #expect(try cli.run("authorize", secret).status == 3)
        let stats = try cli.json("stats") as? [String: Any]
        #expect(stats?["format_version"] as? Int == 1)
        #expect((stats?["tables"] as? [String: Any])?.count == 8)
    }

    @Test func missingStoreIsAClearError() throws {
        let result = try CLI(store: directory + "/nothing-here").run("stats")
        #expect(result.status != 0)
        #expect(result.stderr.contains("no store"))
    }
}
