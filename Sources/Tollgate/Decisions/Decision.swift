import Synchronization
import TollgateLMDB

/// The answer to one request. Being limited is a value, not an error.
public struct Decision: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        case allowed
        /// A limit has no room for the request's cost; see ``Decision/retryAfter``.
        case rateLimited
        /// The key's credits do not cover the cost.
        case creditsExhausted
        /// Well-formed, but no such key.
        case unknownKey
        /// Wrong prefix, length, alphabet or checksum: rejected before any lookup.
        case malformedKey
        case revoked
        case disabled
        case expired
        /// The key lacks the scope the request needs.
        case forbidden

        /// Whether the key itself was refused (as opposed to a quota saying "not now").
        public var rejectsKey: Bool {
            switch self {
            case .unknownKey, .malformedKey, .revoked, .disabled, .expired, .forbidden: true
            case .allowed, .rateLimited, .creditsExhausted: false
            }
        }
    }

    /// Who the key belongs to; present once the key was found.
    public struct KeyIdentity: Sendable, Hashable {
        public var id: String
        public var owner: String
        public var tier: String
        public var scopes: [String]

        public init(id: String, owner: String, tier: String, scopes: [String]) {
            self.id = id
            self.owner = owner
            self.tier = tier
            self.scopes = scopes
        }
    }

    /// One limit's state after the decision.
    public struct LimitStatus: Sendable, Hashable {
        public var name: String
        public var strategy: Strategy
        /// The limit's quantity per window (the `q` of a `RateLimit-Policy` header).
        public var quantity: UInt64
        /// The window in microseconds (calendar quotas: the current period's length).
        public var windowMicroseconds: Int64
        /// Whose counter this is (`key:…`, `owner:…`, `ip:…`, `global`).
        public var subject: String
        /// Cost units left (after this request, if it was allowed).
        public var remaining: UInt64
        /// Microseconds until the limit is fully available again.
        public var resetAfter: Int64
        /// Microseconds until a request of this cost could pass this limit; 0 if it passes now.
        public var retryAfter: Int64
        public var allowed: Bool
        /// The cost can never fit this limit (cost > quantity or burst).
        public var neverFits: Bool
        /// The `q` of the `RateLimit-Policy` header: the most ``remaining`` can ever be. The quantity
        /// for window strategies, the burst for token bucket and GCRA (``Limit/rateLimitPolicy(at:)``).
        public var policyQuantity: UInt64
        /// The `w` of the `RateLimit-Policy` header, in microseconds: the window, or for token bucket
        /// and GCRA the time an empty bucket takes to refill ``policyQuantity``.
        public var policyWindowMicroseconds: Int64

        public init(
            name: String, strategy: Strategy, quantity: UInt64, windowMicroseconds: Int64, subject: String,
            remaining: UInt64, resetAfter: Int64, retryAfter: Int64, allowed: Bool, neverFits: Bool,
            policyQuantity: UInt64? = nil, policyWindowMicroseconds: Int64? = nil
        ) {
            self.policyQuantity = policyQuantity ?? quantity
            self.policyWindowMicroseconds = policyWindowMicroseconds ?? windowMicroseconds
            self.name = name
            self.strategy = strategy
            self.quantity = quantity
            self.windowMicroseconds = windowMicroseconds
            self.subject = subject
            self.remaining = remaining
            self.resetAfter = resetAfter
            self.retryAfter = retryAfter
            self.allowed = allowed
            self.neverFits = neverFits
        }
    }

    public var outcome: Outcome
    public var key: KeyIdentity?
    public var limits: [LimitStatus]
    /// Credits left on the key after this decision; `nil` when the key is not metered by credits.
    public var creditsRemaining: UInt64?
    /// The request's cost.
    public var cost: UInt64
    /// When the decision was taken.
    public var at: Timestamp
    /// Why a malformed key was rejected (never the key itself).
    public var keyRejection: KeyFormat.Rejection?
    /// What ``Store/refund(_:)`` needs to give the cost back; only on allowed decisions.
    var receipt: Receipt?
    /// The request's ``AuthorizationRequest/failureBudget`` was spent, so its key was not looked
    /// up: the outcome is `rateLimited`, `key` is `nil` and `limits` are the budget's.
    public var refusedBeforeLookup = false

    public var isAllowed: Bool { outcome == .allowed }

    /// Microseconds until the same request could succeed: the longest wait among the limits that
    /// refused it; `nil` when allowed, when the key itself was refused, or when it never can.
    public var retryAfter: Int64? {
        guard outcome == .rateLimited, !neverSucceeds else { return nil }
        return limits.filter { !$0.allowed }.map(\.retryAfter).max()
    }

    /// The cost exceeds what some limit could ever admit at once: retrying will not help.
    public var neverSucceeds: Bool { limits.contains { !$0.allowed && $0.neverFits } }

    static func rejected(_ outcome: Outcome, cost: UInt64, at: Timestamp, key: KeyIdentity? = nil, rejection: KeyFormat.Rejection? = nil) -> Decision {
        Decision(outcome: outcome, key: key, limits: [], creditsRemaining: nil, cost: cost, at: at, keyRejection: rejection, receipt: nil)
    }
}

/// What an allowed decision consumed, so it can be given back once, and only as far as it is
/// still in force.
struct Receipt: Sendable, Hashable {
    /// Unique per decision: ``Store/refund(_:at:)`` records it, so a second refund of the same
    /// decision (in any process) gives nothing back.
    var id: DecisionID
    var keyID: String
    var counters: [ConsumedCounter]
    var chargedCredits: Bool
    /// After this, nothing of the decision is refunded (credits and usage included): every window
    /// it charged has ended, and so has its UTC day in the usage ledger. Also when its refund
    /// record may be swept.
    var refundableUntil: Timestamp

    /// What a refund needs of each counter the decision charged: its id, the limit as it was
    /// charged (its arithmetic reads the state) and the state written. The decision's own
    /// effects, shared with the write set rather than copied (one array fewer per decision).
    typealias ConsumedCounter = DecisionCore.CounterEffect
}

/// 16 bytes: a random per-process half and a per-process sequence, so two decisions never
/// share one without any coordination between processes.
struct DecisionID: Sendable, Hashable {
    /// Two integers, not bytes: every allowed decision makes one, and an array would be a heap
    /// allocation on the hot path. ``bytes`` (big-endian, 16) is made only for a refund.
    var process: UInt64
    var sequence: UInt64

    private static let thisProcess = UInt64.random(in: .min ... .max)
    private static let nextSequence = Atomic<UInt64>(0)

    static func next() -> DecisionID {
        let (sequence, _) = Self.nextSequence.add(1, ordering: .relaxed)
        return DecisionID(process: thisProcess, sequence: sequence)
    }

    /// The refunds table's key.
    var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        bytes.appendBigEndian(process)
        bytes.appendBigEndian(sequence)
        return bytes
    }
}

extension Decision.KeyIdentity {
    init(_ key: KeyInfo) {
        self.init(id: key.id, owner: key.owner, tier: key.tier, scopes: key.scopes)
    }
}
