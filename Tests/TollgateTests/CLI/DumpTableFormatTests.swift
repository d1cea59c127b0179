import Testing
@testable import Tollgate
import TollgateTestSupport

/// The table format's quoting, value by value, and the engine's refusal of control characters
/// (the CLI is only one of its callers).
@Suite struct DumpTableFormatTests {
    @Test(arguments: [
        ("plain", "plain"), ("", #""""#), ("a b", #""a b""#), ("a  b", #""a \u0020b""#),
        ("k=v", #""k=v""#), ("a,b", #""a,b""#), (#"q"q"#, #""q\"q""#), (#"b\s"#, #""b\\s""#),
        ("line\nnext", #""line\u000anext""#), ("tab\there", #""tab\u0009here""#), ("esc\u{1B}[2J", #""esc\u001b[2J""#),
        ("del\u{7F}", #""del\u007f""#), ("c1\u{85}\u{9B}", #""c1\u0085\u009b""#), ("bidi\u{202E}", #""bidi\u202e""#),
        ("ls\u{2028}", #""ls\u2028""#), ("nbsp\u{A0}", #""nbsp\u00a0""#), ("tag\u{E0041}", #""tag\udb40\udc41""#),
        ("café", "café"), ("日本", "日本"), ("key:key_abc", "key:key_abc"),
    ])
    func everyValueIsOneUnforgeableToken(_ input: String, _ expected: String) {
        #expect(DumpRecord.textToken(input) == expected)
    }

    @Test func listsAndMapsQuoteTheirElements() {
        let record = DumpRecord(table: .keys, fields: [
            ("scopes", .list(["read", "read  state=revoked", "x,y"])),
            ("metadata", .map(["note": "x  owner=root", "k=": "v"])),
        ])
        #expect(record.textLine == #"keys  scopes=read,"read \u0020state=revoked","x,y"  metadata="k="=v,note="x \u0020owner=root""#)
    }

    @Test func controlCharactersAreRefusedAtTheDoor() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "by-user", limits: [try Limit(spec: "5/second,by=user")]))
        for hostile in ["a\u{1B}b", "a\u{7F}", "a\u{85}", "a\u{9F}", "a\u{0}", "a\nb"] {
            for request in [
                NewKey(owner: hostile, tier: "free"), NewKey(owner: "o", tier: "free", name: hostile),
                NewKey(owner: "o", tier: "free", scopes: [hostile]), NewKey(owner: "o", tier: "free", metadata: ["k": hostile]),
                NewKey(owner: "o", tier: "free", metadata: [hostile: "v"]),
            ] {
                let error = #expect(throws: TollgateError.self, "\(hostile.debugDescription)") { _ = try fixture.store.createKey(request) }
                #expect(error?.code == .invalidArgument)
            }
            let secret = try fixture.store.createKey(NewKey(owner: "o", tier: "by-user")).secret
            let error = #expect(throws: TollgateError.self, "\(hostile.debugDescription)") {
                _ = try fixture.store.authorize(key: secret, subjects: ["user": hostile])
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("control characters") == true)
        }
        // Printable non-ASCII text is not a control character.
        #expect(throws: Never.self) { _ = try fixture.store.createKey(NewKey(owner: "café \u{A0}日本", tier: "free", scopes: ["é"])) }
    }
}
