/// One line of a `key import` file, read strictly: a JSON object whose every field has exactly
/// the type it must have. Foundation's `JSONSerialization` cannot tell `1`, `1.0`, `1e0` and
/// `true` apart once parsed (all are `NSNumber`), so a line is parsed here, keeping each
/// number's text: `credits` must be written as a JSON integer in range, and nothing is ever
/// rounded, wrapped or defaulted. Error messages name the field, never its value (a hash is key
/// material).
struct ImportLine {
    var hash: [UInt8]
    var owner: String
    var tier: String
    var displayPrefix: String?
    var name: String?
    var scopes: [String]?
    var credits: UInt64?

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static let fields: Set<String> = ["hash", "owner", "tier", "display_prefix", "name", "scopes", "credits"]

    /// The lines of a file as they are numbered in an editor: split on LF bytes (a CRLF line
    /// loses its CR), blank lines kept so the numbers stay physical. A final newline does not
    /// start another line.
    static func physicalLines(_ bytes: [UInt8]) -> [(number: Int, text: ArraySlice<UInt8>)] {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.enumerated().map { index, line in
            (index + 1, line.last == 0x0D ? line.dropLast() : line)
        }
    }

    static func isBlank(_ line: ArraySlice<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }

    init(parsing line: ArraySlice<UInt8>) throws(Failure) {
        guard String(validating: line, as: UTF8.self) != nil else { throw Failure("not valid UTF-8") }
        var parser = JSONLineParser(bytes: line)
        let value = try parser.document()
        guard case .object(let members) = value else { throw Failure("a line must be one JSON object") }
        var seen: [String: JSONLineParser.Value] = [:]
        for (key, value) in members {
            guard Self.fields.contains(key) else {
                throw Failure("unknown field '\(Self.printable(key))'; the fields are \(Self.fields.sorted().joined(separator: ", "))")
            }
            guard seen.updateValue(value, forKey: key) == nil else { throw Failure("field \(key) appears twice") }
        }
        func string(_ field: String, required: Bool) throws(Failure) -> String? {
            switch seen[field] {
            case .string(let text)?: return text
            case nil, .null?: if required { throw Failure("needs \(field) (a string)") } else { return nil }
            default: throw Failure("\(field) must be a string")
            }
        }
        guard case .string(let hex)? = seen["hash"] else { throw Failure("needs hash: a string of 64 lowercase hexadecimal digits") }
        guard let hash = Self.hashBytes(hex) else { throw Failure("hash must be exactly 64 lowercase hexadecimal digits") }
        self.hash = hash
        owner = try string("owner", required: true)!
        tier = try string("tier", required: true)!
        displayPrefix = try string("display_prefix", required: false)
        name = try string("name", required: false)
        switch seen["scopes"] {
        case nil, .null?: scopes = nil
        case .array(let elements)?:
            var strings: [String] = []
            for element in elements {
                guard case .string(let scope) = element else { throw Failure("scopes must be an array of strings") }
                strings.append(scope)
            }
            scopes = strings
        default: throw Failure("scopes must be an array of strings")
        }
        switch seen["credits"] {
        case nil, .null?: credits = nil
        case .number(let text)?:
            // Exactly the JSON integer grammar without a sign: no fraction, no exponent, no
            // leading zero; and in range (UInt64's parser refuses what overflows).
            guard text.first != "-", !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let number = UInt64(text) else {
                throw Failure("credits must be a JSON integer from 0 to \(UInt64.max)")
            }
            credits = number
        default: throw Failure("credits must be a JSON integer from 0 to \(UInt64.max)")
        }
    }

    /// 32 bytes from exactly 64 lowercase hex digits; `nil` for anything else (signs, spaces,
    /// upper case, another length).
    static func hashBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count == 64 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    /// A field name as it may be echoed in a message: short, printable ASCII.
    private static func printable(_ text: String) -> String {
        String(text.unicodeScalars.prefix(32).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    }
}

/// RFC 8259 JSON, for one import line: numbers keep their text, nesting is bounded, and
/// anything after the value is refused.
struct JSONLineParser {
    indirect enum Value {
        case object([(String, Value)]), array([Value]), string(String), number(String), bool(Bool), null
    }

    typealias Failure = ImportLine.Failure
    static let maximumDepth = 8

    let bytes: ArraySlice<UInt8>
    var position: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    mutating func document() throws(Failure) -> Value {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard position == bytes.endIndex else { throw failure("unexpected text after the JSON object") }
        return value
    }

    private func failure(_ what: String) -> Failure {
        Failure("invalid JSON at column \(position - bytes.startIndex + 1): \(what)")
    }

    private var current: UInt8? { position < bytes.endIndex ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
    }

    private mutating func expect(_ literal: String) throws(Failure) {
        for byte in literal.utf8 {
            guard current == byte else { throw failure("expected '\(literal)'") }
            position += 1
        }
    }

    private mutating func parseValue(depth: Int) throws(Failure) -> Value {
        guard depth < Self.maximumDepth else { throw failure("nested too deeply") }
        skipWhitespace()
        switch current {
        case UInt8(ascii: "{")?:
            position += 1
            var members: [(String, Value)] = []
            skipWhitespace()
            if current == UInt8(ascii: "}") { position += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw failure("expected a field name") }
                let key = try parseString()
                skipWhitespace()
                try expect(":")
                members.append((key, try parseValue(depth: depth + 1)))
                skipWhitespace()
                if current == UInt8(ascii: ",") { position += 1; continue }
                try expect("}")
                return .object(members)
            }
        case UInt8(ascii: "[")?:
            position += 1
            var elements: [Value] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
            while true {
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                if current == UInt8(ascii: ",") { position += 1; continue }
                try expect("]")
                return .array(elements)
            }
        case UInt8(ascii: "\"")?: return .string(try parseString())
        case UInt8(ascii: "t")?: try expect("true"); return .bool(true)
        case UInt8(ascii: "f")?: try expect("false"); return .bool(false)
        case UInt8(ascii: "n")?: try expect("null"); return .null
        case let byte? where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
            return .number(try parseNumber())
        case nil: throw failure("unexpected end of line")
        default: throw failure("unexpected character")
        }
    }

    private mutating func parseNumber() throws(Failure) -> String {
        let start = position
        func digits(_ parser: inout JSONLineParser) -> Int {
            var count = 0
            while let byte = parser.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { parser.position += 1; count += 1 }
            return count
        }
        if current == UInt8(ascii: "-") { position += 1 }
        if current == UInt8(ascii: "0") {
            position += 1
        } else if digits(&self) == 0 {
            throw failure("a number needs digits")
        }
        if current == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else { throw failure("a fraction needs digits") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard digits(&self) > 0 else { throw failure("an exponent needs digits") }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func parseString() throws(Failure) -> String {
        position += 1  // the opening quote
        var scalars = String.UnicodeScalarView()
        var runStart = position
        func flush(_ parser: JSONLineParser) {
            scalars.append(contentsOf: String(decoding: parser.bytes[runStart..<parser.position], as: UTF8.self).unicodeScalars)
        }
        while true {
            guard let byte = current else { throw failure("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                flush(self)
                position += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush(self)
                position += 1
                guard let escape = current else { throw failure("unterminated string") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard current == UInt8(ascii: "\\") else { throw failure("unpaired surrogate") }
                        position += 1
                        guard current == UInt8(ascii: "u") else { throw failure("unpaired surrogate") }
                        position += 1
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw failure("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw failure("unpaired surrogate") }
                    scalars.append(scalar)
                default: throw failure("unknown escape")
                }
                runStart = position
            case 0x00..<0x20: throw failure("a control character inside a string")
            default: position += 1
            }
        }
    }

    private mutating func parseHex4() throws(Failure) -> UInt32 {
        var code: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current else { throw failure("a \\u escape needs 4 hex digits") }
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure("a \\u escape needs 4 hex digits")
            }
            code = code << 4 | digit
            position += 1
        }
        return code
    }
}
