/// Limits written the way people say them, for the CLI and config files.
///
/// ```
/// spec     = [name "="] quantity "/" window [":" strategy] *("," option)
/// window   = unit | count unit-suffix            second | minute | hour | day | month,
///                                                or 500ms, 90s, 15m, 2h, 7d
/// strategy = fixed | sliding | token-bucket | gcra | calendar
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
        public var spec: String
        /// The offending part of the spec.
        public var part: String
        public var reason: String
        public var description: String { "invalid limit '\(spec)': \(reason) (at '\(part)')" }
    }

    /// Parses a limit spec; see the grammar above.
    public init(spec: String) throws(SpecError) {
        guard spec.utf8.count <= Self.maximumSpecLength else {
            throw SpecError(spec: String(spec.prefix(32)) + "…", part: String(spec.prefix(32)), reason: "longer than \(Self.maximumSpecLength) characters")
        }
        func fail(_ part: some StringProtocol, _ reason: String) -> SpecError {
            SpecError(spec: spec, part: String(part), reason: reason)
        }
        var options = spec.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
        var main = options.removeFirst()
        var name: String?
        if let equals = main.firstIndex(of: "=") {
            name = String(main[..<equals])
            main = String(main[main.index(after: equals)...])
        }
        var strategyText: String?
        if let colon = main.firstIndex(of: ":") {
            strategyText = String(main[main.index(after: colon)...])
            main = String(main[..<colon])
        }
        guard let slash = main.firstIndex(of: "/") else { throw fail(main, "expected QUANTITY/WINDOW, like 10/second") }
        let quantityText = main[..<slash]
        let windowText = String(main[main.index(after: slash)...])
        guard let quantity = UInt64(quantityText.filter { $0 != "_" }), quantity > 0 else {
            throw fail(quantityText, "the quantity must be a whole number of at least 1")
        }
        let (window, calendar) = try Self.parseWindow(windowText, fail: fail)
        var strategy: Strategy = calendar ?? .fixedWindow
        if let strategyText {
            switch strategyText {
            case "fixed", "fixed-window": strategy = .fixedWindow
            case "sliding", "sliding-window": strategy = .slidingWindow
            case "token-bucket", "bucket", "tokens": strategy = .tokenBucket
            case "gcra", "leaky-bucket", "leaky": strategy = .gcra
            case "calendar":
                guard let calendar else { throw fail(strategyText, "calendar quotas take a window of 'day' or 'month'") }
                strategy = calendar
            default: throw fail(strategyText, "unknown strategy; use fixed, sliding, token-bucket, gcra or calendar")
            }
        }
        var burst: UInt64?
        var subject = LimitSubject.key
        for option in options {
            guard let equals = option.firstIndex(of: "=") else { throw fail(option, "expected burst=N or by=SUBJECT") }
            let key = option[..<equals]
            let value = String(option[option.index(after: equals)...])
            switch key {
            case "burst":
                guard let parsed = UInt64(value.filter { $0 != "_" }), parsed > 0 else { throw fail(option, "burst must be a whole number of at least 1") }
                guard strategy == .tokenBucket || strategy == .gcra else { throw fail(option, "burst applies to token-bucket and gcra only") }
                burst = parsed
            case "by":
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
        let limitName = name ?? windowText
        self.init(name: limitName, strategy: strategy, quantity: quantity, windowMicroseconds: window, burst: burst, subject: subject)
        do { try Validation.limit(self) } catch { throw fail(name ?? windowText, error.message) }
    }

    private static func parseWindow(_ text: String, fail: (String, String) -> SpecError) throws(SpecError) -> (Int64, Strategy?) {
        switch text {
        case "second", "sec", "s": return (1_000_000, nil)
        case "minute", "min", "m": return (60_000_000, nil)
        case "hour", "h": return (3_600_000_000, nil)
        case "day", "d": return (86_400_000_000, .calendarDay)
        case "month": return (30 * 86_400_000_000, .calendarMonth)
        default: break
        }
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count)
        let perUnit: Int64
        switch unit {
        case "us", "µs": perUnit = 1
        case "ms": perUnit = 1_000
        case "s": perUnit = 1_000_000
        case "m": perUnit = 60_000_000
        case "h": perUnit = 3_600_000_000
        case "d": perUnit = 86_400_000_000
        default: throw fail(text, "unknown window; use second, minute, hour, day, month, or a duration like 500ms, 90s, 15m, 2h, 7d")
        }
        guard let count = Int64(digits), count > 0 else { throw fail(text, "a window needs a positive count, like 90s") }
        let (window, overflow) = count.multipliedReportingOverflow(by: perUnit)
        guard !overflow else { throw fail(text, "window too long") }
        return (window, nil)
    }

    /// The limit as a spec that ``init(spec:)`` reads back to an equal limit.
    public var spec: String {
        var text = "\(name)=\(quantity)/\(Self.windowText(windowMicroseconds, strategy))"
        switch strategy {
        case .fixedWindow: text += ":fixed"
        case .slidingWindow: text += ":sliding"
        case .tokenBucket: text += ":token-bucket"
        case .gcra: text += ":gcra"
        case .calendarDay, .calendarMonth: text += ":calendar"
        }
        if let burst { text += ",burst=\(burst)" }
        switch subject {
        case .key: break
        case .owner: text += ",by=owner"
        case .global: text += ",by=global"
        case .custom(let name): text += ",by=\(name)"
        }
        return text
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

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
