import Foundation

/// The tiers of a deployment in one small text file, applied with `tollgate tier apply FILE`
/// (``Store/applyTiers(_:dryRun:actor:)``).
///
/// ```
/// # tiers.policy: one tier per line
/// tier free:     10/second  day=1000/day
/// tier pro:      50/second:token-bucket,burst=100  day=100000/day
/// tier partner:  minute=600/minute:sliding  ip=20/second,by=ip
/// tier internal:                      # a tier without limits
/// ```
///
/// - A line is `tier NAME:` followed by the tier's limits, each a LIMIT SPEC as the CLI's
///   `--limit` takes it (see ``Limit/init(spec:)``), separated by spaces or tabs. A spec holds no
///   space: write `20/second:token-bucket,burst=40`.
/// - `#` starts a comment that runs to the end of the line; blank lines are ignored. Lines end
///   with LF; a CR before it is ignored.
/// - Each tier at most once per file, each limit name at most once per tier; at most
///   ``maximumTiers`` tiers, 32 limits per tier, ``maximumLineLength`` bytes per line and
///   ``maximumFileLength`` bytes in all. Longer input is refused before it is looked at.
///
/// Errors (``ParseError``) name the line and column and quote at most 32 bytes of the input.
public struct PolicyFile: Sendable, Hashable {
    /// The tiers, in the order of the file.
    public var tiers: [Tier]

    public static let maximumFileLength = 65_536
    public static let maximumLineLength = 8_192
    public static let maximumTiers = 1_024

    public init(tiers: [Tier]) { self.tiers = tiers }

    /// Why a policy file was refused, and where.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// 1-based; 0 for the file as a whole (too long).
        public var line: Int
        /// 1-based, in bytes; 0 for the file or line as a whole.
        public var column: Int
        public var reason: String

        public var description: String {
            line == 0 ? "policy file: \(reason)" : "policy file line \(line), column \(column): \(reason)"
        }
    }

    /// Parses the file's text.
    public init(parsing text: String) throws(ParseError) {
        self = try withUTF8Bytes(of: text) { (bytes) throws(ParseError) in try PolicyFile(parsing: bytes) }
    }

    /// Parses the file's bytes (the fuzz target's entry point).
    public init(parsing bytes: UnsafeRawBufferPointer) throws(ParseError) {
        guard bytes.count <= Self.maximumFileLength else {
            throw ParseError(line: 0, column: 0, reason: "longer than \(Self.maximumFileLength) bytes")
        }
        var parser = PolicyParser(bytes: bytes)
        tiers = try parser.parse()
    }

    /// Reads and parses the file at `path`, reading at most ``maximumFileLength`` + 1 bytes.
    /// Throws ``TollgateError/Code/notFound`` when it cannot be read, and
    /// ``TollgateError/Code/invalidArgument`` (with the ``ParseError`` as its cause) when it does
    /// not parse.
    public init(contentsOfFile path: String) throws(TollgateError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw TollgateError(.notFound, "cannot read the policy file \(path)") }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: Self.maximumFileLength + 1) ?? Data() } catch {
            throw TollgateError(.storage, "cannot read the policy file \(path): \(error)")
        }
        let result = data.withUnsafeBytes { bytes -> Result<PolicyFile, ParseError> in
            do throws(ParseError) { return .success(try PolicyFile(parsing: bytes)) } catch { return .failure(error) }
        }
        switch result {
        case .success(let file): self = file
        case .failure(let error): throw TollgateError(.invalidArgument, "\(path): \(error)", underlying: error)
        }
    }

    /// The file as text: parsing it gives these tiers back (comments are not kept).
    public var text: String {
        tiers.map { tier in "tier \(tier.name):" + tier.limits.map { " " + $0.spec }.joined() + "\n" }.joined()
    }
}

/// The parser behind ``PolicyFile/init(parsing:)``: works on byte offsets; allocates per tier
/// and limit found, never in proportion to a line's or the file's length beyond the bounds.
private struct PolicyParser {
    let bytes: UnsafeRawBufferPointer
    var line = 0
    var lineStart = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func fail(_ offset: Int?, _ reason: String) -> PolicyFile.ParseError {
        PolicyFile.ParseError(line: line, column: offset.map { $0 - lineStart + 1 } ?? 0, reason: reason)
    }

    /// At most 32 bytes of the input, control characters and bytes that are not UTF-8 shown as `?`.
    func quote(_ range: Range<Int>) -> String {
        let shown = range.lowerBound..<min(range.upperBound, range.lowerBound + 32)
        return "'" + SpecText(bytes: bytes).printable(shown) + (shown.count < range.count ? "…'" : "'")
    }

    func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// The line's words (runs of bytes between spaces and tabs), up to a `#`.
    func words(_ range: Range<Int>) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var index = range.lowerBound
        while index < range.upperBound {
            while index < range.upperBound, isBlank(bytes[index]) { index += 1 }
            guard index < range.upperBound, bytes[index] != UInt8(ascii: "#") else { break }
            let start = index
            while index < range.upperBound, !isBlank(bytes[index]), bytes[index] != UInt8(ascii: "#") { index += 1 }
            words.append(start..<index)
        }
        return words
    }

    func equals(_ range: Range<Int>, _ literal: String) -> Bool { bytes[range].elementsEqual(literal.utf8) }

    mutating func parse() throws(PolicyFile.ParseError) -> [Tier] {
        var tiers: [Tier] = []
        var declaredOn: [String: Int] = [:]
        var start = 0
        while start < bytes.count {
            line += 1
            lineStart = start
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            let next = end + 1
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            guard end - start <= PolicyFile.maximumLineLength else {
                throw fail(nil, "line longer than \(PolicyFile.maximumLineLength) bytes")
            }
            if let tier = try parseLine(start..<end) {
                if let first = declaredOn[tier.name] {
                    throw fail(nil, "tier \(tier.name) is declared twice (first on line \(first))")
                }
                guard tiers.count < PolicyFile.maximumTiers else { throw fail(nil, "more than \(PolicyFile.maximumTiers) tiers") }
                declaredOn[tier.name] = line
                tiers.append(tier)
            }
            start = next
        }
        return tiers
    }

    /// One line: nothing (blank, comment) or a tier.
    func parseLine(_ range: Range<Int>) throws(PolicyFile.ParseError) -> Tier? {
        var words = words(range)[...]
        guard let keyword = words.popFirst() else { return nil }
        guard equals(keyword, "tier") else {
            throw fail(keyword.lowerBound, "expected 'tier NAME: LIMIT…', found \(quote(keyword))")
        }
        guard var nameWord = words.popFirst() else { throw fail(keyword.upperBound, "expected a tier name after 'tier'") }
        // The name ends with ':' ("tier free:"), or the next word is a lone ':' ("tier free :").
        if bytes[nameWord.upperBound - 1] == UInt8(ascii: ":") {
            nameWord = nameWord.lowerBound..<nameWord.upperBound - 1
        } else if let colon = words.first, equals(colon, ":") {
            words.removeFirst()
        } else {
            throw fail(nameWord.upperBound, "expected ':' after the tier name \(quote(nameWord)) (write 'tier NAME: LIMIT…')")
        }
        let name = String(decoding: bytes[nameWord], as: UTF8.self)
        do { try Validation.name(name, "a tier name") } catch {
            throw fail(nameWord.lowerBound, "\(error.message), found \(quote(nameWord))")
        }
        var limits: [Limit] = []
        var names = Set<String>()
        for word in words {
            guard limits.count < Bounds.limits else { throw fail(word.lowerBound, "tier \(name) has more than \(Bounds.limits) limits") }
            let limit: Limit
            do {
                limit = try Limit(specBytes: UnsafeRawBufferPointer(rebasing: bytes[word]))
            } catch {
                let offset = word.lowerBound + min(error.offset, word.count)
                throw fail(offset, "invalid limit \(quote(word)): \(error.reason)")
            }
            guard names.insert(limit.name).inserted else {
                throw fail(word.lowerBound, "tier \(name): the limit name \(limit.name) appears twice")
            }
            limits.append(limit)
        }
        return Tier(name: name, limits: limits)
    }
}
