import Foundation
import ArgumentParser

/// Checks that a date or date-time written as `2027-01-31` or `2027-01-31T12:00:00Z` (offsets
/// `±HH:MM` and a fraction of a second allowed) names an instant that exists: Foundation's
/// ISO 8601 parser carries an impossible field into the next one (`2027-02-30` becomes
/// 2027-03-02, `24:00` the next day) where an operator meant a typo to be refused.
enum CalendarText {
    /// Whether `text` is meant as a date (four digits and a dash), so its fields are checked.
    static func looksLikeDate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count >= 5 && bytes[0..<4].allSatisfy(isDigit) && bytes[4] == UInt8(ascii: "-")
    }

    static func validate(_ text: String) throws {
        let bytes = Array(text.utf8)
        var position = 0
        func number(_ width: Int, _ field: String) throws -> Int {
            guard position + width <= bytes.count, bytes[position..<position + width].allSatisfy(isDigit) else {
                throw ValidationError("'\(text)' is not a date: the \(field) needs \(width) digits")
            }
            defer { position += width }
            return bytes[position..<position + width].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        }
        func literal(_ character: Character) throws {
            guard position < bytes.count, bytes[position] == character.asciiValue else {
                throw ValidationError("'\(text)' is not a date: expected '\(character)' at position \(position + 1)")
            }
            position += 1
        }
        let year = try number(4, "year")
        try literal("-")
        let month = try number(2, "month")
        try literal("-")
        let day = try number(2, "day")
        guard (1...12).contains(month) else { throw ValidationError("'\(text)' is not a date: there is no month \(month)") }
        guard (1...daysIn(month: month, year: year)).contains(day) else {
            throw ValidationError("'\(text)' is not a date: \(String(format: "%04d-%02d", year, month)) has no day \(day)")
        }
        guard position < bytes.count else { return }
        try literal("T")
        let hour = try number(2, "hour")
        try literal(":")
        let minute = try number(2, "minute")
        try literal(":")
        let second = try number(2, "second")
        guard hour < 24, minute < 60, second < 60 else {
            throw ValidationError("'\(text)' is not a time of day: \(String(format: "%02d:%02d:%02d", hour, minute, second)) does not exist")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            let start = position
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
            guard position > start else { throw ValidationError("'\(text)' is not a date: a fraction of a second needs digits") }
        }
        guard position < bytes.count else { throw ValidationError("'\(text)' needs a time zone: Z or ±HH:MM") }
        if bytes[position] == UInt8(ascii: "Z") {
            position += 1
        } else {
            guard bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") else {
                throw ValidationError("'\(text)' needs a time zone: Z or ±HH:MM")
            }
            position += 1
            let offsetHours = try number(2, "offset's hours")
            try literal(":")
            let offsetMinutes = try number(2, "offset's minutes")
            guard offsetHours < 24, offsetMinutes < 60 else { throw ValidationError("'\(text)' has an offset that does not exist") }
        }
        guard position == bytes.count else { throw ValidationError("'\(text)' is not a date: unexpected text at position \(position + 1)") }
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
}
