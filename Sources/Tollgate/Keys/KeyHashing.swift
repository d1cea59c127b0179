import Crypto
import Foundation

/// A server-held secret mixed into every key hash (HMAC-SHA-256), so a stolen store file alone
/// cannot be used to check guessed keys. Keep it out of the store: an environment variable or a
/// file a secrets manager writes.
public struct Pepper: Sendable {
    let key: SymmetricKey

    /// At least 16 bytes; throws ``TollgateError/Code/invalidArgument`` otherwise.
    public init(bytes: some Collection<UInt8>) throws(TollgateError) {
        guard bytes.count >= 16 else { throw TollgateError(.invalidArgument, "a pepper has at least 16 bytes") }
        key = SymmetricKey(data: Array(bytes))
    }

    /// The pepper from environment variable `name` (its UTF-8 bytes), or `nil` when unset.
    public static func fromEnvironment(_ name: String = "TOLLGATE_PEPPER") throws(TollgateError) -> Pepper? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return try Pepper(bytes: Array(value.utf8))
    }

    /// The pepper from a file's bytes (a trailing newline is dropped).
    public init(contentsOfFile path: String) throws(TollgateError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TollgateError(.invalidArgument, "cannot read the pepper file \(path)")
        }
        var bytes = Array(data)
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        try self.init(bytes: bytes)
    }

    /// A public fingerprint stored in the store's meta table, so opening with the wrong pepper is
    /// a clear error rather than "every key is unknown". Reveals nothing usable about the pepper.
    var fingerprint: [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("tollgate pepper fingerprint v1".utf8), using: key)).prefix(8).map { $0 }
    }
}

/// How presented keys become stored hashes.
public enum KeyHashScheme: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// SHA-256 of the key. Enough for 178-bit random keys: nobody can invert or guess them.
    case sha256 = 1
    /// HMAC-SHA-256 of the key with the server's ``Pepper``.
    case hmacSHA256 = 2

    public var description: String {
        switch self {
        case .sha256: "sha256"
        case .hmacSHA256: "hmac-sha256"
        }
    }
}

/// Hashes presented keys; the only place a key's plaintext is read after it has been parsed.
struct KeyHasher: Sendable {
    let scheme: KeyHashScheme
    let pepper: Pepper?

    /// The 32-byte digest under which the key is stored.
    func hash(_ key: UnsafeRawBufferPointer) -> KeyHash {
        switch scheme {
        case .sha256:
            return KeyHash(SHA256.hash(data: key))
        case .hmacSHA256:
            // The store refuses to open an HMAC store without its pepper, so it is here.
            return KeyHash(HMAC<SHA256>.authenticationCode(for: key, using: pepper!.key))
        }
    }

    func hash(_ key: String) -> KeyHash {
        var key = key
        return key.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }
}

/// A key's stored identity: 32 bytes of digest. Never printed whole.
struct KeyHash: Hashable, Sendable {
    var bytes: [UInt8]
    init(_ digest: some Sequence<UInt8>) { bytes = Array(digest) }

    /// A digest is uniformly random already: its first 8 bytes make a good hash-table hash, and
    /// feeding one word instead of 32 bytes takes this off the profile of every decision (the
    /// decoded-record cache and the denial memo look keys up by it). Equality still compares all 32.
    func hash(into hasher: inout Hasher) {
        var word: UInt64 = 0
        for byte in bytes.prefix(8) { word = word << 8 | UInt64(byte) }
        hasher.combine(word)
        hasher.combine(bytes.count)
    }
}
