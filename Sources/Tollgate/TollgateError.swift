/// Every failure Tollgate reports: a code to match on, a message for people, and the cause.
///
/// Messages never contain key material (no secret, no hash): they name ids, tiers, tables.
/// A quota denial is not an error — it is a ``Decision``.
public struct TollgateError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure. Extensible: match on the named statics.
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Lets `catch TollgateError.notFound` match.
        public static func ~= (pattern: Code, value: any Error) -> Bool {
            (value as? TollgateError)?.code == pattern
        }

        /// The same for typed throws (`throws(TollgateError)`).
        public static func ~= (pattern: Code, value: TollgateError) -> Bool {
            value.code == pattern
        }

        /// The storage layer failed (disk full, I/O error, map full at its maximum).
        public static let storage = Code(rawValue: "storage")
        /// The store's format version is not one this build reads.
        public static let unsupportedFormat = Code(rawValue: "unsupported-format")
        /// The store's data file is empty: it was created but never synced to disk (a power cut
        /// before its first sync). Opened only by a caller that asks to create a store.
        public static let neverSynced = Code(rawValue: "never-synced")
        /// A stored record does not decode: the file is damaged or written by something else.
        public static let corruptRecord = Code(rawValue: "corrupt-record")
        /// An argument is out of range or malformed (a bad name, a limit of zero, a bad spec).
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        /// No such key id, tier or record.
        public static let notFound = Code(rawValue: "not-found")
        /// The thing to create exists already.
        public static let alreadyExists = Code(rawValue: "already-exists")
        /// The pepper given does not match the store's (or one is missing / superfluous).
        public static let pepperMismatch = Code(rawValue: "pepper-mismatch")
        /// A limit needs a caller-supplied subject (such as `ip`) that the request did not carry.
        public static let missingSubject = Code(rawValue: "missing-subject")
        /// A tier is still used by keys.
        public static let tierInUse = Code(rawValue: "tier-in-use")
        /// The store is closed.
        public static let closed = Code(rawValue: "closed")
        /// Too many requests are waiting for the writer; try again shortly.
        public static let overloaded = Code(rawValue: "overloaded")
        /// The store is open read-only.
        public static let readOnly = Code(rawValue: "read-only")
        /// The calling task was cancelled before the decision was committed.
        public static let cancelled = Code(rawValue: "cancelled")
        /// The store did not answer within the caller's deadline.
        public static let timedOut = Code(rawValue: "timed-out")
        /// The store's last check found its LMDB structure damaged: it opens read-only only.
        public static let structuralDamage = Code(rawValue: "structural-damage")
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        if let underlying { return "\(code): \(message) (\(underlying))" }
        return "\(code): \(message)"
    }
}

extension TollgateError {
    public static let storage = Code.storage
    public static let unsupportedFormat = Code.unsupportedFormat
    public static let neverSynced = Code.neverSynced
    public static let corruptRecord = Code.corruptRecord
    public static let invalidArgument = Code.invalidArgument
    public static let notFound = Code.notFound
    public static let alreadyExists = Code.alreadyExists
    public static let pepperMismatch = Code.pepperMismatch
    public static let missingSubject = Code.missingSubject
    public static let tierInUse = Code.tierInUse
    public static let closed = Code.closed
    public static let overloaded = Code.overloaded
    public static let readOnly = Code.readOnly
    public static let cancelled = Code.cancelled
    public static let timedOut = Code.timedOut
    public static let structuralDamage = Code.structuralDamage
}
