public import Tollgate

/// What a conformance case needs from a backend: the admin calls that set a scene up, the
/// decision calls under test, the reads that show what a decision left behind, and a clock the
/// suite moves. A backend passes the suite when every case of ``ConformanceCases/all`` passes
/// against it unchanged — the LMDB store now (``LMDBBackend``), Redis next.
///
/// Everything is `async` because a remote backend answers over a network. A backend is created
/// fresh for each case, empty, with its clock at ``ConformanceClock/start``, and closed after it.
public protocol ConformanceBackend: Sendable {
    /// Short, for test names: `lmdb`, `redis`.
    var name: String { get }

    /// The backend's current time: what a decision made now is made at.
    func now() async -> Timestamp
    /// Moves the backend's clock (forward, or back with a negative amount). The suite never reads
    /// a wall clock: every window edge is hit to the microsecond.
    func advance(microseconds: Int64) async

    func setTier(_ tier: Tier) async throws(TollgateError)
    func createKey(_ key: NewKey) async throws(TollgateError) -> ConformanceKey
    /// A new secret for the key; the old one keeps working until `grace` has passed.
    func rotateKey(id: String, grace: Duration) async throws(TollgateError) -> ConformanceKey
    func revokeKey(id: String) async throws(TollgateError)

    /// Decides and consumes, all or nothing (the store's `authorize`).
    func authorize(_ request: AuthorizationRequest) async throws(TollgateError) -> Decision
    /// Decides without consuming (the store's `peek`).
    func peek(_ request: AuthorizationRequest) async throws(TollgateError) -> Decision
    /// A keyless decision (the store's `throttle`).
    func throttle(_ limits: [Limit], subjects: [String: String], cost: UInt64) async throws(TollgateError) -> Decision
    /// Gives back what an allowed decision of this backend consumed (the store's `refund`).
    func refund(_ decision: Decision) async throws(TollgateError)

    /// A key's state and stored credit balance (`nil`: no such key).
    func key(id: String) async throws(TollgateError) -> ConformanceKeyState?
    /// The key's usage ledger, oldest day first, up to the backend's today — denied counts
    /// included, however the backend defers writing them.
    func usage(keyID: String) async throws(TollgateError) -> [DailyUsage]
    /// Every counter the backend holds, in no particular order.
    func counters() async throws(TollgateError) -> [ConformanceCounter]

    /// Releases the backend (closes the store, stops servers, deletes temporary files).
    func close() async
}

/// Where every backend's clock starts: 2026-01-01T00:00:00Z, a Thursday at midnight UTC, so
/// day, hour and minute windows all begin on it and January's 31 days are known.
public enum ConformanceClock {
    public static let start = Timestamp(seconds: 1_767_225_600)
}

/// A key a backend issued: its id and the secret to present.
public struct ConformanceKey: Sendable, Hashable, CustomStringConvertible {
    public var id: String
    public var secret: String

    public init(id: String, secret: String) {
        self.id = id
        self.secret = secret
    }

    /// Never the secret: a failing case's message may print a key.
    public var description: String { "key \(id)" }
}

/// What the suite reads of a stored key.
public struct ConformanceKeyState: Sendable, Hashable {
    public var state: KeyState
    /// The stored balance (`nil`: not metered): what the last write left, before any refill that
    /// the next decision would apply.
    public var credits: UInt64?

    public init(state: KeyState, credits: UInt64?) {
        self.state = state
        self.credits = credits
    }
}

/// One stored counter: whose (as ``Decision/LimitStatus/subject`` shows it), under which name
/// (a call site's: `@` + the limit's name), and its state.
public struct ConformanceCounter: Sendable, Hashable {
    public var subject: String
    public var name: String
    public var state: CounterState

    public init(subject: String, name: String, state: CounterState) {
        self.subject = subject
        self.name = name
        self.state = state
    }
}
