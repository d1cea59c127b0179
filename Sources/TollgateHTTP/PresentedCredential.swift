import Tollgate

/// Where an HTTP request carries its API key.
public enum KeySource: Sendable, Hashable {
    /// A header holding only the key, e.g. `X-API-Key`.
    case header(String)
    /// `Authorization: Bearer <key>`.
    case bearer
    /// A query parameter. Keys in URLs end up in access logs, browser history and referrers:
    /// only for clients that cannot set headers, and only when configured explicitly.
    case queryParameter(String)

    /// `X-API-Key`.
    public static let apiKeyHeader = KeySource.header("X-API-Key")
}

/// What a request presented as its key.
public enum PresentedCredential: Sendable, Hashable {
    /// No key at all.
    case missing
    /// A candidate key (not yet checked: ``KeyFormat/parse(_:)`` and the store do that).
    case key(String)
    /// Something that cannot be a key: too long, not visible ASCII, an empty bearer token, or two
    /// different keys. Says why, never what.
    case malformed(Reason)

    public enum Reason: String, Sendable, Hashable {
        case tooLong, invalidCharacters, emptyBearer, ambiguous
    }

    /// Values longer than this are refused before they are copied (the longest key is
    /// ``KeyFormat/maximumKeyLength`` characters).
    public static let maximumValueBytes = 1_024

    /// The credential in a key header's values (every occurrence of the header, in order).
    public static func fromKeyHeader(_ values: [String]) -> PresentedCredential {
        extract(values) { Self.keyHeader(UnsafeRawBufferPointer($0)) }
    }

    /// The credential in `Authorization` header values.
    public static func fromAuthorization(_ values: [String]) -> PresentedCredential {
        extract(values) { Self.authorization(UnsafeRawBufferPointer($0)) }
    }

    /// One key-header value: optional whitespace around visible ASCII.
    public static func keyHeader(_ value: UnsafeRawBufferPointer) -> PresentedCredential {
        guard value.count <= maximumValueBytes else { return .malformed(.tooLong) }
        return token(HTTPSyntax.trimmed(value[...]))
    }

    /// One `Authorization` value: `Bearer <token>`, the scheme case-insensitive (RFC 9110 §11.1).
    /// Another scheme (`Basic …`, for a proxy or another layer) carries no API key: ``missing``,
    /// so it neither clashes with a key sent elsewhere nor counts as a failed verification.
    public static func authorization(_ value: UnsafeRawBufferPointer) -> PresentedCredential {
        guard value.count <= maximumValueBytes else { return .malformed(.tooLong) }
        let text = HTTPSyntax.trimmed(value[...])
        if text.isEmpty { return .missing }
        let scheme = text.prefix { $0 != 0x20 && $0 != 0x09 }
        guard scheme.count == 6, HTTPSyntax.asciiLowercased(scheme).elementsEqual("bearer".utf8) else { return .missing }
        let credentials = HTTPSyntax.trimmed(text[scheme.endIndex...])
        guard !credentials.isEmpty else { return .malformed(.emptyBearer) }
        return token(credentials)
    }

    private static func token(_ bytes: Slice<UnsafeRawBufferPointer>) -> PresentedCredential {
        if bytes.isEmpty { return .missing }
        guard bytes.count <= KeyFormat.maximumKeyLength else { return .malformed(.tooLong) }
        // Visible ASCII only: anything else cannot be a key, and must not reach logs or hashing.
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else { return .malformed(.invalidCharacters) }
        return .key(String(decoding: bytes, as: UTF8.self))
    }

    private static func extract(_ values: [String], _ parse: (UnsafeBufferPointer<UInt8>) -> PresentedCredential) -> PresentedCredential {
        var found = PresentedCredential.missing
        for value in values {
            var value = value
            let credential = value.withUTF8(parse)
            switch (found, credential) {
            case (_, .missing): continue
            case (.missing, _): found = credential
            // The same key twice (a client or proxy that repeats the header) is one key.
            case (.key(let a), .key(let b)) where a == b: continue
            default: return .malformed(.ambiguous)
            }
        }
        return found
    }
}
