/// HTTP header values for a decision, per `draft-ietf-httpapi-ratelimit-headers-11`, so every
/// integration (the Hummingbird middleware, your own) says the same thing.
///
/// ```
/// RateLimit-Policy: "second";q=10;w=1, "day";q=1000;w=86400
/// RateLimit: "second";r=9;t=1, "day";r=998;t=52103
/// Retry-After: 1
/// ```
extension Decision {
    /// One HTTP header: its name and value.
    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// `RateLimit-Policy`: each limit as `"name";q=<quantity>;w=<window seconds>`, with the
    /// quantity and window of ``Limit/rateLimitPolicy(at:)`` so that `r` never exceeds `q`.
    public var rateLimitPolicyHeader: String? {
        guard !limits.isEmpty else { return nil }
        return limits.map { "\(Self.sfString($0.name));q=\($0.policyQuantity);w=\(Self.ceilSeconds($0.policyWindowMicroseconds))" }
            .joined(separator: ", ")
    }

    /// `RateLimit`: each limit as `"name";r=<remaining>;t=<seconds until reset>`.
    public var rateLimitHeader: String? {
        guard !limits.isEmpty else { return nil }
        return limits.map { "\(Self.sfString($0.name));r=\($0.remaining);t=\(Self.ceilSeconds($0.resetAfter))" }.joined(separator: ", ")
    }

    /// `Retry-After` in whole seconds (rounded up, at least 1) when the request may succeed later.
    public var retryAfterSeconds: Int64? {
        retryAfter.map { max(1, Self.ceilSeconds($0)) }
    }

    /// Every rate-limit header for this decision. `legacy` adds `X-RateLimit-Limit`,
    /// `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds) for the most constrained limit.
    public func rateLimitHeaders(legacy: Bool = false) -> [Header] {
        var headers: [Header] = []
        if let policy = rateLimitPolicyHeader { headers.append(Header(name: "RateLimit-Policy", value: policy)) }
        if let state = rateLimitHeader { headers.append(Header(name: "RateLimit", value: state)) }
        if let retry = retryAfterSeconds { headers.append(Header(name: "Retry-After", value: String(retry))) }
        if legacy, let tightest = limits.min(by: { ($0.allowed ? 1 : 0, $0.remaining) < ($1.allowed ? 1 : 0, $1.remaining) }) {
            headers.append(Header(name: "X-RateLimit-Limit", value: String(tightest.policyQuantity)))
            headers.append(Header(name: "X-RateLimit-Remaining", value: String(tightest.remaining)))
            headers.append(Header(name: "X-RateLimit-Reset", value: String(Self.ceilSeconds(tightest.resetAfter))))
        }
        return headers
    }

    static func ceilSeconds(_ microseconds: Int64) -> Int64 {
        guard microseconds > 0 else { return 0 }
        return microseconds / 1_000_000 + (microseconds % 1_000_000 == 0 ? 0 : 1)
    }

    /// A structured-field string (RFC 9651 §3.3.3): quoted, with `"` and `\` escaped; limit names
    /// are validated to printable ASCII already.
    static func sfString(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

extension Limit {
    /// What a `RateLimit-Policy` header announces for this limit: a quantity that `remaining` never
    /// exceeds, and the window in which that quantity becomes available again.
    ///
    /// Window strategies announce their quantity per window. A token bucket or GCRA can hold up to
    /// its burst (``capacity``) at once, which may exceed the refill quantity, so it announces the
    /// burst and the time an empty bucket takes to refill it: `burst × window / quantity`, rounded
    /// up, saturating at `Int64.max`.
    public func rateLimitPolicy(at now: Timestamp) -> (quantity: UInt64, windowMicroseconds: Int64) {
        switch strategy {
        case .fixedWindow, .slidingWindow, .slidingLog, .calendarDay, .calendarMonth:
            return (quantity, windowLength(at: now))
        case .tokenBucket, .gcra:
            guard quantity > 0 else { return (capacity, .max) }
            let refill = (UInt128(capacity) * UInt128(effectiveWindow)).dividedRoundingUp(by: UInt128(quantity))
            return (capacity, Int64(clamping: refill))
        }
    }
}
