import Foundation
import Testing
import TollgateTestSupport

/// `key import` reads exactly what it is given: numbers are JSON integers in range, hashes are
/// 64 lowercase hex digits, lines are numbered as an editor numbers them.
@Suite(.serialized) struct CLIImportTests {
    let directory = TemporaryStore.makeDirectory(prefix: "tollgate-cli-import")
    var cli: CLI { CLI(store: directory + "/store") }
    static let hash = String(repeating: "ab", count: 32)

    func line(hash: String = CLIImportTests.hash, extra: String = "") -> String {
        #"{"hash": "\#(hash)", "owner": "legacy", "tier": "free"\#(extra)}"#
    }

    @Test func importAcceptsOnlyJSONIntegersInRangeAndStrictHashes() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("tier", "set", "free", "--limit", "5/second").status == 0)
        let refused = [
            line(hash: String(repeating: "01", count: 31) + "0a", extra: #", "credits": -1"#),
            line(hash: String(repeating: "02", count: 32), extra: #", "credits": 1e20"#),
            line(hash: String(repeating: "03", count: 32), extra: #", "credits": 18446744073709551616"#),
            line(hash: String(repeating: "04", count: 32), extra: #", "credits": 1.5"#),
            line(hash: String(repeating: "05", count: 32), extra: #", "credits": true"#),
            line(hash: String(repeating: "06", count: 32), extra: #", "credits": "100""#),
            line(hash: String(repeating: "07", count: 32), extra: #", "credits": {}"#),
            line(hash: String(repeating: "08", count: 32), extra: #", "credits": 1.0"#),
            line(hash: String(repeating: "09", count: 32), extra: #", "credits": 1e2"#),
            line(hash: String(repeating: "+0", count: 32)),
            line(hash: String(repeating: "AB", count: 32)),
            line(hash: String(repeating: "a", count: 63)),
            line(hash: " " + String(repeating: "a", count: 63)),
            line(hash: String(repeating: "0a", count: 32), extra: #", "credit": 5"#),
            line(hash: String(repeating: "0b", count: 32), extra: #", "scopes": "read""#),
            line(hash: String(repeating: "0c", count: 32), extra: #", "owner": "twice""#),
            #"{"hash": "\#(String(repeating: "0d", count: 32))", "owner": 5, "tier": "free"}"#,
            #"[1, 2]"#,
            line(hash: String(repeating: "0e", count: 32)) + " trailing",
        ]
        let accepted = [
            line(hash: String(repeating: "f1", count: 32), extra: #", "credits": 18446744073709551615"#),
            line(hash: String(repeating: "f2", count: 32), extra: #", "credits": 0, "scopes": ["a", "b"], "name": "n\u00e9""#),
            line(hash: String(repeating: "f3", count: 32), extra: #", "credits": null"#),
        ]
        let result = try cli.run("key", "import", "-", stdin: (refused + accepted).joined(separator: "\n") + "\n")
        #expect(result.status == 1)
        #expect(result.stdout.contains("imported \(accepted.count) key(s), \(refused.count) failed"), "\(result.stdout) \(result.stderr)")
        for number in 1...refused.count { #expect(result.stderr.contains("line \(number): "), "line \(number) is reported: \(result.stderr)") }
        #expect(!result.stderr.contains("line \(refused.count + 1):"))
        #expect(!result.stderr.contains(String(repeating: "02", count: 32)), "no hash in messages")
        let keys = try #require(try cli.json("key", "list", "--owner", "legacy") as? [[String: Any]])
        #expect(keys.count == accepted.count)
        let credits = keys.compactMap { $0["credits"] as? NSNumber }.map(\.uint64Value).sorted()
        #expect(credits == [0, UInt64.max])
    }

    @Test func importNumbersPhysicalLinesAndReadsCRLF() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("tier", "set", "free", "--limit", "5/second").status == 0)
        let good1 = line(hash: String(repeating: "a1", count: 32))
        let good2 = line(hash: String(repeating: "a2", count: 32))
        let bad = line(hash: "zz")
        let file = directory + "/keys.jsonl"
        try Data((good1 + "\r\n" + "\r\n" + "   \r\n" + bad + "\r\n" + good2 + "\r\n").utf8).write(to: URL(fileURLWithPath: file))
        let result = try cli.run("key", "import", file)
        #expect(result.status == 1)
        #expect(result.stdout.contains("imported 2 key(s), 1 failed"), "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("line 4: "), "the bad line is the 4th physical line: \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        // LF only, no final newline.
        let lf = try cli.run("key", "import", "-", stdin: "\n\n" + line(hash: String(repeating: "a3", count: 32)) + "\n" + bad)
        #expect(lf.stdout.contains("imported 1 key(s), 1 failed"))
        #expect(lf.stderr.contains("line 4: "), "\(lf.stderr)")
    }
}

/// The table format of `dump` shows one record per line, each field once, whatever a caller put
/// in the values; control characters are refused at the door.
@Suite(.serialized) struct CLIDumpTableTests {
    let directory = TemporaryStore.makeDirectory(prefix: "tollgate-cli-dump")
    var cli: CLI { CLI(store: directory + "/store") }

    @Test func hostileValuesCannotForgeLinesOrFields() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("tier", "set", "free", "--limit", "5/second", "--limit", "u=5/second,by=user").status == 0)
        let created = try cli.run("key", "create", "--tier", "free", "--owner", "o  owner=root", "--name", "a,b=c",
                                  "--scope", "read  state=revoked", "--scope", "x,y", "--meta", "note=x  owner=root", "--meta", "k,=v=")
        #expect(created.status == 0, "\(created.stderr)")
        let secret = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // Control characters (C0, DEL, C1) never get in: subjects, scopes, metadata, owners.
        for hostile in ["user=alice\nkeys\tid=key_FORGED\towner=root", "user=a\u{1B}[2J", "user=a\u{7F}", "user=a\u{85}b", "user=a\u{9B}31m"] {
            let refused = try cli.run("authorize", secret, "--subject", hostile)
            #expect(refused.status == 1, "\(hostile.debugDescription): \(refused.stderr)")
            #expect(refused.stderr.contains("control characters"))
        }
        for field in [["--scope", "a\u{1B}b"], ["--scope", "a\u{85}b"], ["--meta", "k=v\u{9B}"], ["--meta", "k\u{7F}=v"], ["--name", "n\u{1B}"]] {
            let refused = try cli.run(["key", "create", "--tier", "free", "--owner", "o"] + field)
            #expect(refused.status == 1, "\(field): \(refused.stderr)")
        }
        #expect(try cli.run("key", "create", "--tier", "free", "--owner", "o\u{85}").status == 1)
        #expect(try cli.run("authorize", secret, "--subject", "user=alice  kind=window count=0").status == 0)

        let dump = try cli.run("dump", "--format", "table")
        #expect(dump.status == 0)
        let jsonl = try cli.run("dump")
        let lines = dump.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == jsonl.stdout.split(separator: "\n").count, "one line per record")
        for line in lines {
            let fields = line.components(separatedBy: "  ").dropFirst().map { $0.prefix { $0 != "=" } }
            #expect(Set(fields).count == fields.count, "each field once: \(line)")
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        }
        let key = try #require(lines.first { $0.hasPrefix("keys  ") && $0.contains("id=key_") && $0.contains("scopes=") })
        #expect(key.contains(#"owner="o \u0020owner=root""#), "\(key)")
        #expect(key.contains(#"scopes="read \u0020state=revoked","x,y""#), "\(key)")
        #expect(key.contains(#"metadata="k,"="v=",note="x \u0020owner=root""#), "\(key)")
        #expect(key.contains(#"name="a,b=c""#), "\(key)")
        #expect(dump.stdout.contains(#"subject="user:alice \u0020kind=window count=0""#), "\(dump.stdout)")
        #expect(dump.stdout.contains(#"limits="second=5/1s:fixed","u="#), "\(dump.stdout)")
    }
}
