import Foundation
import Testing
import TollgateTestSupport

/// One exit-status table for every command (`tollgate --help`, Docs/cli.md): 0 success, 1 failure
/// or refusal, 2 denied, 3 key rejected, 64 a command line that does not parse.
@Suite(.serialized) struct CLIExitStatusTests {
    let directory = TemporaryStore.makeDirectory(prefix: "tollgate-cli-exit")
    var cli: CLI { CLI(store: directory + "/store") }

    struct Case: CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var stdin: String? = nil
        var store: String? = nil
        var description: String { "tollgate \(arguments.map { $0.hasPrefix("tg_live_") ? "<key>" : $0 }.joined(separator: " ")) → \(status)" }
    }

    @Test func everyCommandExitsByTheTable() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("tier", "set", "free", "--limit", "100/second").status == 0)
        let secret = try cli.run("key", "create", "--tier", "free", "--owner", "acme").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let keys = try #require(try cli.json("key", "list") as? [[String: Any]])
        let id = try #require(keys.first?["id"] as? String)
        let other = try #require((try cli.json("key", "create", "--tier", "free", "--owner", "acme") as? [String: Any])?["key"] as? [String: Any])
        let otherID = try #require(other["id"] as? String)
        let policy = directory + "/tiers.policy"
        try "tier pro: 10/second\n".write(toFile: policy, atomically: true, encoding: .utf8)
        let nowhere = directory + "/nothing-here"
        let unknownID = "key_" + String(repeating: "A", count: 16)
        let goodLine = #"{"hash": "\#(String(repeating: "cd", count: 32))", "owner": "legacy", "tier": "free"}"#

        let cases: [Case] = [
            Case(arguments: ["init"], status: 0, store: directory + "/second"),
            Case(arguments: ["init"], status: 1),
            Case(arguments: ["init", "--map-size", "abc"], status: 64, store: directory + "/third"),
            Case(arguments: ["init", "--hash-scheme", "md5"], status: 1, store: directory + "/fourth"),

            Case(arguments: ["stats"], status: 0),
            Case(arguments: ["stats"], status: 1, store: nowhere),
            Case(arguments: ["stats", "--bogus"], status: 64),

            Case(arguments: ["tier", "set", "t2", "--limit", "5/second"], status: 0),
            Case(arguments: ["tier", "set", "bad", "--limit", "10/fortnight"], status: 1),
            Case(arguments: ["tier", "set"], status: 64),
            Case(arguments: ["tier", "apply", policy], status: 0),
            Case(arguments: ["tier", "apply", "-"], status: 1, stdin: "tier gold: 10/fortnight\n"),
            Case(arguments: ["tier", "apply", directory + "/missing.policy"], status: 1),
            Case(arguments: ["tier", "apply"], status: 64),
            Case(arguments: ["tier", "list"], status: 0),
            Case(arguments: ["tier", "list"], status: 1, store: nowhere),
            Case(arguments: ["tier", "list", "--bogus"], status: 64),
            Case(arguments: ["tier", "show", "free"], status: 0),
            Case(arguments: ["tier", "show", "nope"], status: 1),
            Case(arguments: ["tier", "show"], status: 64),
            Case(arguments: ["tier", "remove", "t2"], status: 0),
            Case(arguments: ["tier", "remove", "free"], status: 1),
            Case(arguments: ["tier", "remove"], status: 64),

            Case(arguments: ["key", "create", "--tier", "free", "--owner", "o", "--expires", "2099-02-28"], status: 0),
            Case(arguments: ["key", "create", "--tier", "free", "--owner", "o", "--expires", "2028-02-29T23:59:59Z"], status: 0),
            Case(arguments: ["key", "create", "--tier", "free", "--owner", "o", "--expires", "2027-02-30"], status: 1),
            Case(arguments: ["key", "create", "--tier", "free", "--owner", "o", "--expires", "2027-02-29"], status: 1),
            Case(arguments: ["key", "create", "--tier", "free", "--owner", "o", "--expires", "2027-04-31T00:00:00Z"], status: 1),
            Case(arguments: ["key", "create", "--tier", "free", "--owner", "o", "--expires", "2027-13-01"], status: 1),
            Case(arguments: ["key", "create", "--tier", "free", "--owner", "o", "--expires", "2027-01-31T24:00:00Z"], status: 1),
            Case(arguments: ["key", "create", "--tier", "free", "--owner", "o", "--expires", "2027-01-31T12:60:00Z"], status: 1),
            Case(arguments: ["key", "create", "--tier", "nope", "--owner", "o"], status: 1),
            Case(arguments: ["key", "create", "--tier", "free", "--owner", "o", "--refill", "5/week"], status: 1),
            Case(arguments: ["key", "create", "--owner", "o"], status: 64),
            Case(arguments: ["key", "list"], status: 0),
            Case(arguments: ["key", "list"], status: 1, store: nowhere),
            Case(arguments: ["key", "list", "--bogus"], status: 64),
            Case(arguments: ["key", "show", id], status: 0),
            Case(arguments: ["key", "show", unknownID], status: 1),
            Case(arguments: ["key", "show"], status: 64),
            Case(arguments: ["key", "disable", otherID], status: 0),
            Case(arguments: ["key", "disable", unknownID], status: 1),
            Case(arguments: ["key", "disable"], status: 64),
            Case(arguments: ["key", "enable", otherID], status: 0),
            Case(arguments: ["key", "enable", unknownID], status: 1),
            Case(arguments: ["key", "enable"], status: 64),
            Case(arguments: ["key", "rotate", otherID, "--grace", "fortnight"], status: 1),
            Case(arguments: ["key", "rotate", unknownID], status: 1),
            Case(arguments: ["key", "rotate"], status: 64),
            Case(arguments: ["key", "rotate", otherID], status: 0),
            Case(arguments: ["key", "set-tier", otherID, "pro"], status: 0),
            Case(arguments: ["key", "set-tier", otherID, "nope"], status: 1),
            Case(arguments: ["key", "set-tier", otherID], status: 64),
            Case(arguments: ["key", "credits", id, "--add", "5"], status: 0),
            Case(arguments: ["key", "credits", unknownID, "--add", "5"], status: 1),
            Case(arguments: ["key", "credits", id, "--add", "-1"], status: 64),
            Case(arguments: ["key", "import", "-"], status: 0, stdin: goodLine + "\n"),
            Case(arguments: ["key", "import", "-"], status: 1, stdin: "{}\n"),
            Case(arguments: ["key", "import", directory + "/missing.jsonl"], status: 1),
            Case(arguments: ["key", "import"], status: 64),
            Case(arguments: ["key", "revoke", otherID], status: 0),
            Case(arguments: ["key", "revoke", unknownID], status: 1),
            Case(arguments: ["key", "revoke"], status: 64),

            Case(arguments: ["authorize", secret], status: 0),
            Case(arguments: ["authorize", "-"], status: 0, stdin: secret + "\n"),
            Case(arguments: ["authorize", secret, "--cost", "1000"], status: 2),
            Case(arguments: ["authorize", secret + "x"], status: 3),
            Case(arguments: ["authorize", secret, "--subject", "ip"], status: 1),
            Case(arguments: ["authorize", "-"], status: 1, stdin: ""),
            Case(arguments: ["authorize", secret], status: 1, store: nowhere),
            Case(arguments: ["authorize", secret, "--cost", "abc"], status: 64),
            Case(arguments: ["authorize"], status: 64),
            Case(arguments: ["peek", secret], status: 0),
            Case(arguments: ["peek", secret, "--cost", "1000"], status: 2),
            Case(arguments: ["peek", secret + "x"], status: 3),
            Case(arguments: ["peek", secret, "--subject", "ip"], status: 1),
            Case(arguments: ["peek", "-"], status: 1, stdin: ""),
            Case(arguments: ["peek", secret, "--cost", "abc"], status: 64),

            Case(arguments: ["usage", id], status: 0),
            Case(arguments: ["usage", id], status: 1, store: nowhere),
            Case(arguments: ["usage", id, "--days", "abc"], status: 64),
            Case(arguments: ["dump"], status: 0),
            Case(arguments: ["dump"], status: 1, store: nowhere),
            Case(arguments: ["dump", "--format", "xml"], status: 64),
            Case(arguments: ["check"], status: 0),
            Case(arguments: ["check"], status: 1, store: nowhere),
            Case(arguments: ["check", "--bogus"], status: 64),
            Case(arguments: ["backup", directory + "/backup"], status: 0),
            Case(arguments: ["backup", directory + "/backup"], status: 1),
            Case(arguments: ["backup"], status: 64),
            Case(arguments: ["restore", directory + "/backup"], status: 1),
            Case(arguments: ["restore", directory + "/backup", "--force"], status: 0),
            Case(arguments: ["restore", directory + "/no-backup"], status: 1, store: directory + "/restored"),
            Case(arguments: ["restore"], status: 64),
            Case(arguments: ["sweep"], status: 0),
            Case(arguments: ["sweep"], status: 1, store: nowhere),
            Case(arguments: ["sweep", "--batch-size", "abc"], status: 64),

            Case(arguments: ["--help"], status: 0),
            Case(arguments: ["frobnicate"], status: 64),
        ]
        for test in cases {
            let runner = test.store.map { CLI(store: $0) } ?? cli
            let result = try runner.run(test.arguments, stdin: test.stdin)
            #expect(result.status == test.status, "\(test): got \(result.status), \(result.stderr)")
            if test.status == 1 { #expect(result.stderr.hasPrefix("Error: ") || result.stderr.contains("line "), "\(test): \(result.stderr)") }
            if test.status == 1 || test.status == 64 { #expect(!result.stderr.contains(secret), "\(test): no key in messages") }
        }
        // Every command of the CLI has a case above.
        let covered = Set(cases.map { $0.arguments.prefix { !$0.hasPrefix("-") && !$0.hasPrefix("/") && $0 != secret && $0 != secret + "x" && !$0.hasPrefix("key_") }.prefix(2).joined(separator: " ") })
        for command in ["init", "stats", "tier set", "tier apply", "tier list", "tier show", "tier remove", "key create", "key list", "key show",
                        "key revoke", "key disable", "key enable", "key rotate", "key set-tier", "key credits", "key import", "authorize",
                        "peek", "usage", "dump", "check", "backup", "restore", "sweep"] {
            #expect(covered.contains(command), "\(command) has exit-status cases")
        }
        let help = try cli.run("--help").stdout
        for status in ["0 ", "1 ", "2 ", "3 ", "64 "] { #expect(help.contains("\n  " + status), "--help lists exit status \(status)") }
    }
}
