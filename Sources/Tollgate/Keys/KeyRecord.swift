/// Whether a key may be used.
public enum KeyState: UInt8, Sendable, Hashable, CustomStringConvertible {
    case active = 1
    /// Temporarily refused; ``Store/enableKey(id:actor:)`` brings it back.
    case disabled = 2
    /// Refused for good.
    case revoked = 3

    public var description: String {
        switch self {
        case .active: "active"
        case .disabled: "disabled"
        case .revoked: "revoked"
        }
    }
}

/// How a key's credits come back.
public struct CreditRefill: Sendable, Hashable {
    public enum Period: UInt8, Sendable, Hashable, CustomStringConvertible {
        case day = 1, month = 2
        public var description: String { self == .day ? "day" : "month" }
    }

    /// Credits are set back to this amount at the start of every period (UTC).
    public var amount: UInt64
    public var period: Period

    public init(amount: UInt64, period: Period) {
        self.amount = amount
        self.period = period
    }
}

/// Everything Tollgate keeps about a key — except the key, which it never keeps.
public struct KeyInfo: Sendable, Hashable {
    /// Public identifier (`key_` + 16 base62 characters); safe to log and show.
    public var id: String
    /// The first characters of the key, for people to recognise it (`tg_live_4Jx0…`).
    public var displayPrefix: String
    public var owner: String
    public var name: String
    public var tier: String
    public var scopes: [String]
    public var state: KeyState
    public var createdAt: Timestamp
    public var expiresAt: Timestamp?
    public var revokedAt: Timestamp?
    /// Credits left; `nil` means the key is not metered by credits.
    public var credits: UInt64?
    public var refill: CreditRefill?
    /// Limits of this key that replace (same name) or add to its tier's limits.
    public var limitOverrides: [Limit]
    public var metadata: [String: String]
    /// When the key was last used, to ``Store/Options/lastUsedResolution``; `nil` if never.
    public var lastUsedAt: Timestamp?
    /// While a rotation's grace period runs: the old key's display prefix and when it stops working.
    public var previousKeyGraceUntil: Timestamp?

    /// Whether the key's scopes grant `scope`: an exact match, `*`, or a `prefix:*` wildcard
    /// (`reports:*` grants `reports:read`).
    public func grants(_ scope: String) -> Bool {
        scopes.contains { granted in
            if granted == scope || granted == "*" { return true }
            if granted.hasSuffix(":*") { return scope.hasPrefix(granted.dropLast()) }
            return false
        }
    }

    func isExpired(at now: Timestamp) -> Bool {
        expiresAt.map { now >= $0 } ?? false
    }

    /// Bumps credits to the refill amount when a new refill period has begun since `lastRefill`.
    mutating func applyRefill(at now: Timestamp, lastRefill: inout Int64) {
        guard let refill else { return }
        let period = CalendarPeriod.index(of: now, period: refill.period)
        if period > lastRefill {
            credits = refill.amount
            lastRefill = period
        }
    }
}

/// What the `keys` table holds under a key hash.
enum StoredKey: Sendable, Hashable {
    /// The key's current hash.
    case primary(KeyInfo, lastRefillPeriod: Int64)
    /// The hash of a key replaced by rotation: it still works until `graceUntil`.
    case rotated(id: String, graceUntil: Timestamp)
}

extension CreditRefill.Period {
    /// The number of the period containing `time`: days since 1970-01-01, or months since
    /// January 1970 (UTC). A refill is due when this number grows.
    public func index(of time: Timestamp) -> Int64 { CalendarPeriod.index(of: time, period: self) }
}

/// Calendar periods (UTC) as integers: days since the epoch, or months since January 1970.
enum CalendarPeriod {
    static func index(of time: Timestamp, period: CreditRefill.Period) -> Int64 {
        let day = time.daysSinceEpoch
        switch period {
        case .day: return day
        case .month:
            let date = CivilDate(daysSinceEpoch: day)
            return (date.year - 1970) * 12 + (date.month - 1)
        }
    }
}
