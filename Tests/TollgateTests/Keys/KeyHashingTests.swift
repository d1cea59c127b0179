import Crypto
import Foundation
import Testing
@testable import Tollgate
import TollgateTestSupport

/// Known answers for the key hash, so a change to what is hashed (an extra byte, a dropped pepper)
/// cannot hide behind a round trip: createKey and authorize share the hasher, so a broken hasher
/// still finds its own keys. The vectors are the published ones, not values this code produced.
@Suite struct KeyHashingTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func sha256MatchesTheFIPSVectors() {
        let hasher = KeyHasher(scheme: .sha256, pepper: nil)
        // FIPS 180-2 appendix B.1 and B.2, and the empty message.
        #expect(Self.hex(hasher.hash("abc").bytes) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(hasher.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").bytes)
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Self.hex(hasher.hash("").bytes) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func hmacMatchesTheRFC4231Vectors() throws {
        // RFC 4231 test case 1: 20 bytes of 0x0b, "Hi There".
        let one = KeyHasher(scheme: .hmacSHA256, pepper: try Pepper(bytes: [UInt8](repeating: 0x0b, count: 20)))
        #expect(Self.hex(one.hash("Hi There").bytes) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        // Test case 4: key 0x01…0x19, 50 bytes of 0xcd.
        let four = KeyHasher(scheme: .hmacSHA256, pepper: try Pepper(bytes: Array(UInt8(1)...UInt8(25))))
        let data = [UInt8](repeating: 0xcd, count: 50)
        let digest = data.withUnsafeBytes { four.hash($0) }
        #expect(Self.hex(digest.bytes) == "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b")
    }

    @Test func twoPeppersGiveDifferentHashesAndNeitherIsThePlainDigest() throws {
        let key = KeyFormat.default.generate()
        let a = KeyHasher(scheme: .hmacSHA256, pepper: try Pepper(bytes: Array("pepper-number-one!".utf8))).hash(key)
        let b = KeyHasher(scheme: .hmacSHA256, pepper: try Pepper(bytes: Array("pepper-number-two!".utf8))).hash(key)
        let plain = KeyHasher(scheme: .sha256, pepper: nil).hash(key)
        #expect(a != b)
        #expect(a != plain && b != plain)
        #expect(a.bytes.count == 32 && plain.bytes.count == 32)
    }

    /// The migration path of Docs/keys.md: a hash computed elsewhere (here with swift-crypto
    /// directly, not through Tollgate) is imported, and the key's secret then authorizes.
    @Test(arguments: [false, true])
    func anImportedHashAuthorizesItsSecret(peppered: Bool) async throws {
        let pepperBytes = Array("an-operator-pepper-32-bytes-long".utf8)
        let fixture = try Fixture { options in
            if peppered { options.pepper = try! Pepper(bytes: pepperBytes) }
        }
        defer { fixture.remove() }
        let secret = KeyFormat.default.generate()
        let digest: [UInt8] = peppered
            ? Array(HMAC<SHA256>.authenticationCode(for: Array(secret.utf8), using: SymmetricKey(data: pepperBytes)))
            : Array(SHA256.hash(data: Array(secret.utf8)))
        let info = try fixture.store.importKey(hash: digest, displayPrefix: KeyFormat.default.displayPrefix(of: secret),
                                               NewKey(owner: "migrated", tier: "free"))
        let decision = try await fixture.store.authorize(key: secret)
        #expect(decision.outcome == .allowed)
        #expect(decision.key?.id == info.id)
        // A secret one character off is not found under the imported hash.
        var other = Array(secret.utf8)
        other[other.count - 8] = other[other.count - 8] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let wrong = try await fixture.store.authorize(key: String(decoding: other, as: UTF8.self))
        #expect(wrong.outcome != .allowed)
    }

    /// A key created by the store is stored under the published SHA-256 of its secret.
    @Test func aCreatedKeyIsStoredUnderTheSHA256OfItsSecret() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let issued = try fixture.key()
        let expected = Array(SHA256.hash(data: Array(issued.secret.utf8)))
        // Importing the same hash again must collide with the created key.
        let error = #expect(throws: TollgateError.self) {
            try fixture.store.importKey(hash: expected, displayPrefix: "x", NewKey(owner: "acme", tier: "free"))
        }
        #expect(error?.code == .alreadyExists)
    }
}
