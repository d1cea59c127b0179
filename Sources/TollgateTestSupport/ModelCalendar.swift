import Foundation

// UTC calendar periods for the model, from Foundation's Gregorian calendar — deliberately not
// Tollgate's own civil-date arithmetic (`CalendarPeriod`), so a wrong month length or leap year
// in the engine shows up as a disagreement instead of being shared by model and store.

enum ModelCalendar {
    static let dayMicroseconds: Int64 = 86_400_000_000

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar
    }()

    /// Days since 1970-01-01 (UTC) of `microseconds`: a UTC day has no leap seconds in Unix time.
    static func day(_ microseconds: Int64) -> Int64 {
        let (quotient, remainder) = microseconds.quotientAndRemainder(dividingBy: dayMicroseconds)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// `[start, end)` of the UTC day containing `microseconds`.
    static func dayPeriod(_ microseconds: Int64) -> (start: Int64, end: Int64) {
        let start = day(microseconds) * dayMicroseconds
        return (start, start + dayMicroseconds)
    }

    /// `[start, end)` of the UTC month containing `microseconds`. Whole seconds only go through
    /// `Date` (a `Double`), so nothing is rounded.
    static func monthPeriod(_ microseconds: Int64) -> (start: Int64, end: Int64) {
        let (year, month) = yearAndMonth(microseconds)
        // Foundation answers for every date a run reaches (2026–2030).
        let first = utc.date(from: DateComponents(year: year, month: month, day: 1))!
        let next = utc.date(byAdding: .month, value: 1, to: first)!
        return (Int64(first.timeIntervalSince1970) * 1_000_000, Int64(next.timeIntervalSince1970) * 1_000_000)
    }

    /// A number that grows by one each UTC month (what a monthly refill compares).
    static func monthNumber(_ microseconds: Int64) -> Int64 {
        let (year, month) = yearAndMonth(microseconds)
        return Int64(year) * 12 + Int64(month - 1)
    }

    static func yearAndMonth(_ microseconds: Int64) -> (year: Int, month: Int) {
        let midnight = Date(timeIntervalSince1970: Double(day(microseconds) * 86_400))
        let parts = utc.dateComponents([.year, .month], from: midnight)
        return (parts.year!, parts.month!)
    }
}
