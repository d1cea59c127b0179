/// Limits written the way people say them, for the CLI and config files.
///
/// ```
/// spec     = [name "="] quantity "/" window [":" strategy] *("," option)
/// window   = unit | count unit-suffix            second | minute | hour | day | month,
///                                                or 500ms, 90s, 15m, 2h, 7d
/// strategy = fixed | sliding | sliding-log | token-bucket | gcra | calendar
/// option   = "burst=" count | "by=" subject      subject: key | owner | global | any name (ip, user, route…)
/// ```
///
/// Examples: `10/second`, `1000/day`, `minute=100/minute:sliding`, `20/second:token-bucket,burst=40`,
/// `ip=5/second,by=ip`, `100/90s:gcra`. `day` and `month` count UTC calendar days and months;
/// `24h` and `30d` are fixed windows of that length. The default name is the window as written.
extension Limit {
    /// The longest spec accepted; longer input is refused before it is looked at.
    public static let maximumSpecLength = 256

    /// Why a spec was refused, with the part that is wrong.
    public struct SpecError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The spec (at most ``Limit/maximumSpecLength`` bytes of it).
        public var spec: String
        /// The offending part of the spec.
        public var part: String
        public var reason: String
        /// Where ``part`` starts in the spec, in bytes from 0.
        public var offset: Int = 0
        public var description: String { "invalid limit '\(spec)': \(reason) (at '\(part)')" }
    }

    /// Parses a limit spec; see the grammar above.
    public init(spec: String) throws(SpecError) {
        self = try withUTF8Bytes(of: spec) { (bytes) throws(SpecError) in try Limit(specBytes: bytes) }
    }

    /// Parses a limit spec from its UTF-8 bytes (the grammar above; what ``init(spec:)`` and the
    /// policy file use, and the fuzz target's entry point). Works on the bytes directly: input
    /// longer than ``maximumSpecLength`` is refused before anything is copied.
    public init(specBytes bytes: UnsafeRawBufferPointer) throws(SpecError) {
        guard bytes.count <= Self.maximumSpecLength else {
            let head = SpecText(bytes: bytes).printable(0..<32)
            throw SpecError(spec: head + "…", part: head, reason: "longer than \(Self.maximumSpecLength) characters")
        }
        let text = SpecText(bytes: bytes)
        func fail(_ part: Range<Int>, _ reason: String) -> SpecError {
            SpecError(spec: text.printable(0..<bytes.count), part: text.printable(part), reason: reason, offset: part.lowerBound)
        }
        var options = text.split(0..<bytes.count, on: UInt8(ascii: ",")).map(text.trimmingSpaces)
        var main = options.removeFirst()
        var name: Range<Int>?
        if let equals = text.firstIndex(of: UInt8(ascii: "="), in: main) {
            name = main.lowerBound..<equals
            main = equals + 1..<main.upperBound
        }
        var strategyPart: Range<Int>?
        if let colon = text.firstIndex(of: UInt8(ascii: ":"), in: main) {
            strategyPart = colon + 1..<main.upperBound
            main = main.lowerBound..<colon
        }
        guard let slash = text.firstIndex(of: UInt8(ascii: "/"), in: main) else { throw fail(main, "expected QUANTITY/WINDOW, like 10/second") }
        let quantityPart = main.lowerBound..<slash
        let windowPart = slash + 1..<main.upperBound
        guard let quantity = text.count(quantityPart), quantity > 0 else {
            throw fail(quantityPart, "the quantity must be a whole number of at least 1")
        }
        let (window, calendar) = try Self.parseWindow(text, windowPart, fail: fail)
        var strategy: Strategy = calendar ?? .fixedWindow
        if let strategyPart {
            switch text.string(strategyPart) {
            case "fixed", "fixed-window": strategy = .fixedWindow
            case "sliding", "sliding-window": strategy = .slidingWindow
            case "sliding-log", "log": strategy = .slidingLog
            case "token-bucket", "bucket", "tokens": strategy = .tokenBucket
            case "gcra", "leaky-bucket", "leaky": strategy = .gcra
            case "calendar":
                guard let calendar else { throw fail(strategyPart, "calendar quotas take a window of 'day' or 'month'") }
                strategy = calendar
            default: throw fail(strategyPart, "unknown strategy; use fixed, sliding, sliding-log, token-bucket, gcra or calendar")
            }
        }
        var burst: UInt64?
        var subject = LimitSubject.key
        for option in options {
            guard let equals = text.firstIndex(of: UInt8(ascii: "="), in: option) else { throw fail(option, "expected burst=N or by=SUBJECT") }
            let valuePart = equals + 1..<option.upperBound
            switch text.string(option.lowerBound..<equals) {
            case "burst":
                guard let parsed = text.count(valuePart), parsed > 0 else { throw fail(option, "burst must be a whole number of at least 1") }
                guard strategy == .tokenBucket || strategy == .gcra else { throw fail(option, "burst applies to token-bucket and gcra only") }
                burst = parsed
            case "by":
                let value = text.string(valuePart)
                switch value {
                case "key": subject = .key
                case "owner": subject = .owner
                case "global", "all": subject = .global
                default:
                    do { try Validation.name(value, "a subject", max: Bounds.subjectName) } catch {
                        throw fail(option, "a subject is key, owner, global, or a name of letters, digits, '_', '-', '.', ':'")
                    }
                    subject = .custom(value)
                }
            default: throw fail(option, "unknown option; use burst=N or by=SUBJECT")
            }
        }
        let namePart = name ?? windowPart
        self.init(name: text.string(namePart), strategy: strategy, quantity: quantity, windowMicroseconds: window, burst: burst, subject: subject)
        do { try Validation.limit(self) } catch { throw fail(namePart, error.message) }
    }

    private static func parseWindow(
        _ text: SpecText, _ part: Range<Int>, fail: (Range<Int>, String) -> SpecError
    ) throws(SpecError) -> (Int64, Strategy?) {
        switch text.string(part) {
        case "second", "sec", "s": return (1_000_000, nil)
        case "minute", "min", "m": return (60_000_000, nil)
        case "hour", "h": return (3_600_000_000, nil)
        case "day", "d": return (calendarWindow(.calendarDay) ?? 0, .calendarDay)
        case "month": return (calendarWindow(.calendarMonth) ?? 0, .calendarMonth)
        default: break
        }
        var digitsEnd = part.lowerBound
        while digitsEnd < part.upperBound, (0x30...0x39).contains(text.bytes[digitsEnd]) { digitsEnd += 1 }
        let perUnit: Int64
        switch text.string(digitsEnd..<part.upperBound) {
        case "us", "µs": perUnit = 1
        case "ms": perUnit = 1_000
        case "s": perUnit = 1_000_000
        case "m": perUnit = 60_000_000
        case "h": perUnit = 3_600_000_000
        case "d": perUnit = 86_400_000_000
        default: throw fail(part, "unknown window; use second, minute, hour, day, month, or a duration like 500ms, 90s, 15m, 2h, 7d")
        }
        guard digitsEnd > part.lowerBound, let count = text.count(part.lowerBound..<digitsEnd, underscores: false),
              let count = Int64(exactly: count), count > 0
        else { throw fail(part, "a window needs a positive count, like 90s") }
        let (window, overflow) = count.multipliedReportingOverflow(by: perUnit)
        guard !overflow else { throw fail(part, "window too long") }
        return (window, nil)
    }

    /// The limit as a spec that ``init(spec:)`` reads back to an equal limit, for every limit
    /// that validates. A tier stored by an earlier version may hold what validation now refuses
    /// (``unprintableReason``); its spec leaves out a burst its strategy ignores, and a calendar
    /// quota's unused window, so it still reads back to a limit that counts the same.
    public var spec: String {
        var text = "\(name)=\(quantity)/\(Self.windowText(windowMicroseconds, strategy))"
        switch strategy {
        case .fixedWindow: text += ":fixed"
        case .slidingWindow: text += ":sliding"
        case .slidingLog: text += ":sliding-log"
        case .tokenBucket: text += ":token-bucket"
        case .gcra: text += ":gcra"
        case .calendarDay, .calendarMonth: text += ":calendar"
        }
        if let burst, strategy == .tokenBucket || strategy == .gcra { text += ",burst=\(burst)" }
        switch subject {
        case .key: break
        case .owner: text += ",by=owner"
        case .global: text += ",by=global"
        case .custom(let name): text += ",by=\(name)"
        }
        return text
    }

    /// Subject words the grammar reads as a built-in subject: a custom subject of one of these
    /// names would print as `by=key` and read back as the key's own counter.
    static func isReservedSubjectName(_ name: String) -> Bool {
        switch name {
        case "key", "owner", "global", "all": true
        default: false
        }
    }

    /// The window the grammar gives a calendar strategy (`day`, `month`); `nil` for the others.
    static func calendarWindow(_ strategy: Strategy) -> Int64? {
        switch strategy {
        case .calendarDay: 86_400_000_000
        case .calendarMonth: 30 * 86_400_000_000
        case .fixedWindow, .slidingWindow, .tokenBucket, .gcra, .slidingLog: nil
        }
    }

    /// Why ``spec`` could not print this limit so that it reads back equal, or `nil` when it can.
    /// Validation refuses such limits, so every limit the store accepts has a spec.
    var unprintableReason: String? {
        if burst != nil, strategy != .tokenBucket, strategy != .gcra { return "burst applies to token-bucket and gcra only" }
        if let calendar = Self.calendarWindow(strategy), windowMicroseconds != calendar {
            return "a calendar quota's window must be \(calendar) µs (its period; the window is not used)"
        }
        if case .custom(let name) = subject, Self.isReservedSubjectName(name) {
            return "'\(name)' is a reserved subject word; name a custom subject otherwise"
        }
        return nil
    }

    static func windowText(_ window: Int64, _ strategy: Strategy) -> String {
        if strategy == .calendarDay { return "day" }
        if strategy == .calendarMonth { return "month" }
        for (unit, size) in [("d", Int64(86_400_000_000)), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1_000)]
        where window % size == 0 {
            return "\(window / size)\(unit)"
        }
        return "\(window)us"
    }
}

/// Runs `parse` on the UTF-8 bytes of `text`, keeping its typed error: how the `String` entry
/// points of the byte-level parsers call them.
func withUTF8Bytes<T, E: Error>(of text: String, _ parse: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
    var text = text
    let result = text.withUTF8 { utf8 -> Result<T, E> in
        do throws(E) { return .success(try parse(UnsafeRawBufferPointer(utf8))) } catch { return .failure(error) }
    }
    return try result.get()
}

/// A spec's bytes and the few operations its parser needs, on ranges of byte offsets (no
/// `Character` or `String` work until a part is compared or reported).
struct SpecText {
    let bytes: UnsafeRawBufferPointer

    func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    /// The part as an error may show it: control characters and bytes that are not UTF-8 become
    /// `?` (no terminal escapes from input reach a log), never longer than the part in bytes.
    func printable(_ range: Range<Int>) -> String {
        let clamped = range.clamped(to: 0..<bytes.count)
        var scalars = String.UnicodeScalarView()
        for scalar in String(decoding: bytes[clamped], as: UTF8.self).unicodeScalars {
            let hidden = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\u{FFFD}"
            scalars.append(hidden ? "?" : scalar)
        }
        return String(scalars)
    }

    func firstIndex(of byte: UInt8, in range: Range<Int>) -> Int? {
        var index = range.lowerBound
        while index < range.upperBound {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    /// The parts between `separator`s, empty ones included (at most `bytes.count + 1` of them).
    func split(_ range: Range<Int>, on separator: UInt8) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = range.lowerBound
        while let next = firstIndex(of: separator, in: start..<range.upperBound) {
            parts.append(start..<next)
            start = next + 1
        }
        parts.append(start..<range.upperBound)
        return parts
    }

    /// Without leading and trailing spaces (0x20).
    func trimmingSpaces(_ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound, upper = range.upperBound
        while lower < upper, bytes[lower] == 0x20 { lower += 1 }
        while upper > lower, bytes[upper - 1] == 0x20 { upper -= 1 }
        return lower..<upper
    }

    /// A decimal count: ASCII digits, `_` between them allowed (`1_000`) when `underscores`.
    /// `nil` when empty, on any other byte, or above `UInt64.max`.
    func count(_ range: Range<Int>, underscores: Bool = true) -> UInt64? {
        var value: UInt64 = 0
        var digits = 0
        for index in range {
            let byte = bytes[index]
            if underscores && byte == UInt8(ascii: "_") { continue }
            guard (0x30...0x39).contains(byte) else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - 0x30))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            digits += 1
        }
        return digits > 0 ? value : nil
    }
}

extension Limit {
    /// Checks the limit as ``Store/setTier(_:)`` would, throwing `invalidArgument` with the reason.
    /// Every limit that passes prints as a ``spec`` that reads back to an equal limit.
    public func validate() throws(TollgateError) {
        try Validation.limit(self)
    }
}
