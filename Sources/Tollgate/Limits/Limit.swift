/// How a limit counts. Each strategy is a pure function over a small ``CounterState``;
/// see `Docs/limits.md` for the formulas and trade-offs.
public enum Strategy: UInt8, Sendable, Hashable, CaseIterable {
    /// `quantity` per `window`, windows aligned to the Unix epoch. Cheap and exact, but allows
    /// up to 2× `quantity` across a window boundary.
    case fixedWindow = 1
    /// Two-window weighted counter (Cloudflare, the `limits` library): the previous window's
    /// count is weighted by how much of it still overlaps the sliding window.
    case slidingWindow = 2
    /// Bucket of `burst` tokens (default `quantity`), refilled at `quantity` per `window`.
    case tokenBucket = 3
    /// Leaky bucket as a meter (GCRA): emission interval `window / quantity`, tolerance `burst`.
    case gcra = 4
    /// `quantity` per UTC calendar day (`window` is ignored).
    case calendarDay = 5
    /// `quantity` per UTC calendar month (`window` is ignored).
    case calendarMonth = 6
    /// Exact moving window: a log of the admitted requests' times and costs, so no window of
    /// length `window` ever holds more than `quantity`. One 16-byte entry per admitted request
    /// still in the window; the quantity is at most ``SlidingLog/maximumQuantity`` (1,000).
    case slidingLog = 7
}

/// Whose counter a limit consumes.
public enum LimitSubject: Sendable, Hashable {
    /// The presented key (by key id, so a rotated key keeps its counters).
    case key
    /// The key's owner: shared by all keys of the owner.
    case owner
    /// A caller-supplied subject, looked up by this name in the request's subjects
    /// (for example `"ip"`, `"user"`, `"route"`).
    case custom(String)
    /// One counter for everybody.
    case global
}

/// One limit of a tier: a name, a quantity per window, a strategy and a subject.
///
/// Limits with the same ``name`` and the same resolved subject share one counter, which is how
/// an owner-wide or global limit spans tiers.
public struct Limit: Sendable, Hashable {
    public var name: String
    public var strategy: Strategy
    /// Cost units allowed per ``windowMicroseconds`` (per calendar period for calendar quotas).
    public var quantity: UInt64
    /// The window (refill period for token bucket and GCRA) in microseconds; > 0.
    public var windowMicroseconds: Int64
    /// Bucket capacity (token bucket) or burst tolerance (GCRA) in cost units; `nil` means
    /// `quantity`. Token bucket and GCRA only: validation refuses a burst on other strategies.
    public var burst: UInt64?
    public var subject: LimitSubject

    public init(
        name: String,
        strategy: Strategy,
        quantity: UInt64,
        windowMicroseconds: Int64,
        burst: UInt64? = nil,
        subject: LimitSubject = .key
    ) {
        self.name = name
        self.strategy = strategy
        self.quantity = quantity
        self.windowMicroseconds = windowMicroseconds
        self.burst = burst
        self.subject = subject
    }

    /// The capacity of a bucket strategy: ``burst`` or ``quantity``.
    public var capacity: UInt64 { burst ?? quantity }
}

/// A limiter's stored state; one per (subject, limit name) in the `counters` table. Fixed-size,
/// except the sliding log's, which holds at most ``SlidingLog/maximumQuantity`` entries.
public enum CounterState: Sendable, Hashable {
    /// Fixed window and calendar quotas: the start of the counted window and its count.
    case window(start: Int64, count: UInt64)
    /// Sliding window: the current window's start and count, and the previous window's count.
    case sliding(start: Int64, count: UInt64, previous: UInt64)
    /// Token bucket: tokens scaled by `windowMicroseconds` (so refill is exact integer
    /// arithmetic: `quantity` scaled units per microsecond), and when they were last updated.
    case bucket(scaledTokens: Int128, updated: Int64)
    /// GCRA: the theoretical arrival time scaled by `quantity` (microseconds × quantity),
    /// so an emission interval of `window / quantity` is exactly `window` scaled units.
    case gcra(scaledArrival: Int128)
    /// Sliding log: the admitted requests still in the window, oldest first (strictly increasing
    /// times, costs > 0).
    case log(entries: [SlidingLogEntry])
}

/// What one limit says about one request: the result of the pure limiter function.
public struct LimitCheck: Sendable, Hashable {
    /// Whether the request fits.
    public var allowed: Bool
    /// Cost units still available after this request (if allowed) or now (if denied): the largest
    /// cost that would be allowed right now.
    public var remaining: UInt64
    /// Microseconds until the limit is fully available again (window reset, bucket full).
    /// Window and calendar strategies report the end of the current period even when nothing is
    /// counted; the sliding window reports when its estimate decays to 0. `Int64.max`: never.
    public var resetAfter: Int64
    /// Microseconds until a request of this cost could succeed; 0 when allowed or ``neverFits``.
    /// Exact: the request fits at `now + retryAfter` and not one microsecond earlier.
    public var retryAfter: Int64
    /// The cost exceeds what the limit can ever admit at once (cost > quantity or burst), or the
    /// bucket never refills (quantity 0): retrying will not help.
    public var neverFits: Bool

    public init(allowed: Bool, remaining: UInt64, resetAfter: Int64, retryAfter: Int64, neverFits: Bool) {
        self.allowed = allowed
        self.remaining = remaining
        self.resetAfter = resetAfter
        self.retryAfter = retryAfter
        self.neverFits = neverFits
    }
}
