import Foundation
import Testing
import TollgateTestSupport
import TollgateLMDB

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

    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil) throws -> Result {
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
        #expect(try cli.run("tier", "set", "free", "--limit", "2/hour", "--limit", "day=100/day").status == 0)
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

        // dump: every line is JSON, no secret, no full hash.
        let dump = try cli.run("dump")
        #expect(dump.status == 0)
        let lines = dump.stdout.split(separator: "\n")
        #expect(lines.count >= 8)
        for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)") }
        #expect(!dump.stdout.contains(secret.dropFirst(12)))
        #expect(dump.stdout.contains("\"table\":\"counters\""))
        #expect(try cli.run("dump", "--table", "keys", "--format", "table").stdout.contains("state=revoked"))
        #expect(try cli.run("dump", "--table", "nope").status != 0)

        // check → backup → restore → check.
        #expect(try cli.run("check").stdout.contains("clean"))
        let backup = directory + "/backup"
        #expect(try cli.run("backup", backup).status == 0)
        #expect(try cli.run("restore", backup).status != 0, "refuses to overwrite a store without --force")
        let restored = CLI(store: directory + "/restored")
        #expect(try restored.run("restore", backup).status == 0)
        #expect(try restored.run("check").status == 0)
        #expect(try restored.run("key", "show", id).stdout.contains("revoked"))
        #expect(try cli.run("restore", backup, "--force").status == 0)
        #expect(try cli.run("sweep").status == 0)
    }

    @Test func importReadsHashesAndReportsBadLines() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("tier", "set", "free", "--limit", "5/second").status == 0)
        let good = #"{"hash": "\#(String(repeating: "ab", count: 32))", "owner": "legacy", "tier": "free", "display_prefix": "old_…"}"#
        let bad = #"{"hash": "zz", "owner": "legacy", "tier": "free"}"#
        let result = try cli.run("key", "import", "-", stdin: good + "\n" + bad + "\n")
        #expect(result.status == 1)
        #expect(result.stdout.contains("imported 1 key(s), 1 failed"))
        #expect(result.stderr.contains("line 2"))
        #expect((try cli.json("key", "list", "--owner", "legacy") as? [Any])?.count == 1)
    }

    @Test func aDamagedStoreFailsItsCheck() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("tier", "set", "free", "--limit", "5/second").status == 0)
        #expect(try cli.run("key", "create", "--tier", "free", "--owner", "o").status == 0)
        // Remove the tier behind the CLI's back: the key now points to nothing.
        var options = Environment.Options(path: directory + "/store")
        options.create = false
        let environment = try Environment(options: options)
        let tiers = try #require(try environment.table(named: "tiers", create: false))
        _ = try environment.write { txn in try txn.delete(Array("free".utf8), in: tiers) }
        environment.close()
        let check = try cli.run("check")
        #expect(check.status == 1)
        #expect(check.stdout.contains("tier free, which does not exist"))
    }

    @Test func tierApplyWritesEveryTierOfAPolicyFileOrNone() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("tier", "set", "free", "--limit", "5/second").status == 0)
        let policy = directory + "/tiers.policy"
        try "# tiers\ntier free: 10/second day=1000/day\ntier pro: 50/second:token-bucket,burst=100\n".write(toFile: policy, atomically: true, encoding: .utf8)

        let dry = try cli.run("tier", "apply", policy, "--dry-run")
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("would replace tier free: second=5/1s:fixed  →  second=10/1s:fixed  day=1000/day:calendar"))
        #expect(dry.stdout.contains("would create tier pro: second=50/1s:token-bucket,burst=100"))
        #expect(dry.stdout.contains("dry run, nothing written: 1 created, 1 replaced, 0 unchanged"))
        #expect(try cli.run("tier", "show", "pro").status != 0, "the dry run wrote nothing")

        let applied = try cli.run("tier", "apply", policy)
        #expect(applied.status == 0)
        #expect(applied.stdout.contains("applied: 1 created, 1 replaced, 0 unchanged"))
        #expect(try cli.run("tier", "show", "pro").stdout.contains("second=50/1s:token-bucket,burst=100"))
        #expect(try cli.run("tier", "apply", "-", stdin: "tier pro: 50/second:token-bucket,burst=100\n").stdout.contains("unchanged tier pro"))

        // One bad line: nothing is applied, and the error names line and column.
        let bad = try cli.run("tier", "apply", "-", stdin: "tier free: 1/second\ntier gold: 10/fortnight\n")
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("line 2, column 15"), "\(bad.stderr)")
        #expect(try cli.run("tier", "show", "free").stdout.contains("second=10/1s"))
        #expect(try cli.run("tier", "apply", directory + "/missing.policy").status != 0)
    }

    @Test func missingStoreIsAClearError() throws {
        let result = try CLI(store: directory + "/nothing-here").run("stats")
        #expect(result.status != 0)
        #expect(result.stderr.contains("no store"))
    }
}

/// The help texts are part of the interface: a change to them shows up here. To accept a change,
/// regenerate the files: `for c in "" "tier set" "tier apply" "authorize" "key create" "dump"; do …` (see Docs/cli.md).
@Suite struct CLIHelpTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    @Test(arguments: [[], ["tier", "set"], ["tier", "apply"], ["authorize"], ["key", "create"], ["dump"]])
    func helpMatchesItsGoldenFile(_ command: [String]) throws {
        let name = (["help"] + command).joined(separator: "-")
        let expected = try String(contentsOf: Self.golden.appendingPathComponent(name + ".txt"), encoding: .utf8)
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = command + ["--help"]
        process.environment = ["COLUMNS": "80"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: data, as: UTF8.self) == expected)
    }
}
