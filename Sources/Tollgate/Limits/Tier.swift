/// A named set of limits that keys are issued under (e.g. `free` = 10/second + 1,000/day).
public struct Tier: Sendable, Hashable {
    public var name: String
    public var limits: [Limit]

    public init(name: String, limits: [Limit]) {
        self.name = name
        self.limits = limits
    }

    /// The limits in force for a key: the tier's, with the key's overrides replacing limits of
    /// the same name and adding the rest.
    func effectiveLimits(overrides: [Limit]) -> [Limit] {
        guard !overrides.isEmpty else { return limits }
        var result = limits.map { limit in overrides.first { $0.name == limit.name } ?? limit }
        result += overrides.filter { override in !limits.contains { $0.name == override.name } }
        return result
    }
}

/// Bounds on every name and list Tollgate stores; checked on input and again when decoding.
enum Bounds {
    static let name = 64
    static let owner = 256
    static let keyName = 256
    static let scope = 128
    static let scopes = 64
    static let subjectName = 32
    static let subjectValue = 256
    static let limits = 32
    static let metadataEntries = 64
    static let metadataKey = 64
    static let metadataValue = 1024
    static let actor = 128
    static let auditDetail = 1024
}

enum Validation {
    /// Names of tiers, limits and subjects: 1…64 of `A-Z a-z 0-9 _ - . :`.
    static func name(_ value: String, _ what: String, max: Int = Bounds.name) throws(TollgateError) {
        guard !value.isEmpty, value.utf8.count <= max,
              value.utf8.allSatisfy({ Base62.isDigit($0) || "_-.:".utf8.contains($0) })
        else {
            throw TollgateError(.invalidArgument, "\(what) must be 1 to \(max) characters of letters, digits, '_', '-', '.', ':'")
        }
    }

    /// Free text (owners, key names, scopes, metadata): valid UTF-8, no control characters
    /// (C0, DEL, C1: they forge lines and fields in listings and drive terminals), bounded.
    static func text(_ value: String, _ what: String, max: Int, allowEmpty: Bool = false) throws(TollgateError) {
        guard allowEmpty || !value.isEmpty else { throw TollgateError(.invalidArgument, "\(what) must not be empty") }
        guard value.utf8.count <= max else { throw TollgateError(.invalidArgument, "\(what) is longer than \(max) bytes") }
        guard !containsControlCharacter(value.utf8) else {
            throw TollgateError(.invalidArgument, "\(what) must not contain control characters")
        }
    }

    /// Whether UTF-8 text holds a C0 control (U+0000–U+001F, NUL included), DEL (U+007F) or a
    /// C1 control (U+0080–U+009F, encoded `C2 80`…`C2 9F`). Bytes only: it runs on every
    /// request's subjects.
    static func containsControlCharacter(_ utf8: some Sequence<UInt8>) -> Bool {
        var afterC2 = false
        for byte in utf8 {
            if byte < 0x20 || byte == 0x7F || (afterC2 && byte <= 0x9F) { return true }
            afterC2 = byte == 0xC2
        }
        return false
    }

    static func limit(_ limit: Limit) throws(TollgateError) {
        try storedLimit(limit)
        // GCRA keeps an absolute arrival time scaled by the quantity in 128 bits: `now × q` plus
        // the tolerance `burst × window` must stay below 2^127 for every `now` of the timeline
        // (|now| < 2^63), or it would refuse as never fitting what a token bucket still admits.
        // New limits only: a stored one past these bounds still reads (it refuses, never admits, where it overflows).
        if limit.strategy == .gcra {
            guard limit.quantity <= GCRA.maximumQuantity else {
                throw TollgateError(.invalidArgument, "limit \(limit.name): a GCRA quantity must be at most 2^62 (\(GCRA.maximumQuantity)) per window")
            }
            guard UInt128(limit.capacity) * UInt128(limit.windowMicroseconds) <= GCRA.maximumTolerance else {
                throw TollgateError(.invalidArgument, "limit \(limit.name): a GCRA's burst × window must be at most 2^126 µs")
            }
        }
        if let reason = limit.unprintableReason { throw TollgateError(.invalidArgument, "limit \(limit.name): \(reason)") }
    }

    /// What a limit read back from the store must satisfy: the rules of every earlier version,
    /// which did not yet insist that a limit has a spec (``Limit/unprintableReason``).
    static func storedLimit(_ limit: Limit) throws(TollgateError) {
        try name(limit.name, "a limit name")
        guard limit.quantity > 0 else { throw TollgateError(.invalidArgument, "limit \(limit.name): quantity must be at least 1") }
        guard limit.windowMicroseconds > 0 else { throw TollgateError(.invalidArgument, "limit \(limit.name): window must be positive") }
        if let burst = limit.burst, burst == 0 { throw TollgateError(.invalidArgument, "limit \(limit.name): burst must be at least 1") }
        // The log keeps one entry per admitted request in the window: the quantity bounds its size.
        if limit.strategy == .slidingLog, limit.quantity > SlidingLog.maximumQuantity {
            throw TollgateError(.invalidArgument, "limit \(limit.name): a sliding log keeps one entry per request, so its quantity must be at most \(SlidingLog.maximumQuantity); use sliding or gcra for more")
        }
        if case .custom(let subject) = limit.subject { try name(subject, "a subject name", max: Bounds.subjectName) }
    }

    static func tier(_ tier: Tier) throws(TollgateError) {
        try name(tier.name, "a tier name")
        try limits(tier.limits, "tier \(tier.name)")
    }

    /// A request's call-site limits: valid, bounded, each name once. Checked on every request,
    /// so kept cheap: nothing but byte comparisons.
    static func additionalLimits(_ limits: [Limit]) throws(TollgateError) {
        guard !limits.isEmpty else { return }
        try Validation.limits(limits, "the request's additional limits")
    }

    /// A tier's limits or a key's overrides: valid, bounded, and each name once (two limits of one
    /// name would share a counter and read each other's state as fresh).
    static func limits(_ limits: [Limit], _ owner: String) throws(TollgateError) {
        guard limits.count <= Bounds.limits else { throw TollgateError(.invalidArgument, "\(owner) has more than \(Bounds.limits) limits") }
        var seen = Set<String>()
        for limit in limits {
            try Validation.limit(limit)
            guard seen.insert(limit.name).inserted else {
                throw TollgateError(.invalidArgument, "\(owner): limit name \(limit.name) appears twice")
            }
        }
    }
}
