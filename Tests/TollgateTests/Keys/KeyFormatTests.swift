import Testing
@testable import Tollgate

@Suite struct KeyFormatTests {
    let format = KeyFormat.default

    @Test func generatedKeysParseAndHaveTheDocumentedShape() {
        for _ in 0..<1_000 {
            let key = format.generate()
            #expect(format.parse(key) == nil)
            #expect(key.hasPrefix("tg_live_"))
            #expect(key.utf8.count == 8 + 30 + 6)
            #expect(key.utf8.count <= KeyFormat.maximumKeyLength)
            #expect(key.utf8.allSatisfy { Base62.isDigit($0) || $0 == UInt8(ascii: "_") })
        }
    }

    @Test func bodyCarriesAtLeast160BitsOfEntropy() {
        // log2(62^30) ≈ 178.6
        let bits = Double(KeyFormat.bodyLength) * 5.954
        #expect(bits >= 160)
        var seen = Set<String>()
        for _ in 0..<10_000 { seen.insert(format.generate()) }
        #expect(seen.count == 10_000)
    }

    @Test func everySingleCharacterChangeIsCaught() throws {
        let key = Array(format.generate().utf8)
        for index in 8..<key.count {
            var changed = key
            changed[index] = changed[index] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
            #expect(format.parse(String(decoding: changed, as: UTF8.self)) == .badChecksum)
        }
    }

    @Test func rejectionsNameTheReason() {
        let key = format.generate()
        #expect(format.parse("") == .empty)
        #expect(format.parse(String(repeating: "a", count: 65)) == .tooLong)
        #expect(format.parse("tg_test_" + key.dropFirst(8)) == .wrongPrefix)
        #expect(format.parse(key + "a") == .wrongLength)
        #expect(format.parse(String(key.dropLast())) == .wrongLength)
        #expect(format.parse(String(key.dropLast()) + "-") == .invalidCharacter)
        #expect(format.parse(String(key.dropLast()) + "é") == .tooLong || format.parse(String(key.dropLast()) + "é") == .wrongLength)
    }

    @Test func knownChecksum() {
        // CRC-32 of "123456789" is 0xCBF43926 (the standard check value).
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(Base62.decode(Base62.encode(0xCBF4_3926, width: 6)) == 0xCBF4_3926)
        #expect(Base62.encode(0, width: 6) == Array("000000".utf8))
        #expect(Base62.encode(UInt32.max, width: 6) == Array("4gfFC3".utf8))
    }

    @Test func prefixesAreValidated() {
        #expect((#expect(throws: TollgateError.self) { try KeyFormat(prefix: "") })?.code == .invalidArgument)
        #expect((#expect(throws: TollgateError.self) { try KeyFormat(prefix: "has space") })?.code == .invalidArgument)
        #expect((#expect(throws: TollgateError.self) { try KeyFormat(prefix: String(repeating: "a", count: 29)) })?.code == .invalidArgument)
        #expect(throws: Never.self) { try KeyFormat(prefix: "acme_prod_") }
        let custom = try! KeyFormat(prefix: "acme_")
        #expect(custom.parse(custom.generate()) == nil)
        #expect(custom.parse(format.generate()) == .wrongPrefix)
    }

    @Test func displayPrefixShowsOnlyTheStart() {
        let key = format.generate()
        let shown = format.displayPrefix(of: key)
        #expect(shown == String(key.prefix(12)) + "…")
    }

    @Test func randomBytesNeverCrashTheParser() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...80, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let rejection = bytes.withUnsafeBytes { format.parse($0) }
            #expect(rejection != nil)
        }
    }
}
