/// A half-open span of time `[start, end)` in microseconds since the epoch.
///
/// The bounds are `Int128` because the period containing a timestamp near either end of the
/// `Int64` timeline may begin before `Int64.min` or end after `Int64.max`.
struct Period: Hashable {
    var start: Int128
    var end: Int128

    /// The start as a stored ``CounterState`` records it. Only the first period of the timeline
    /// starts before `Int64.min`; clamping still names it uniquely.
    var storedStart: Int64 { Int64(clamping: start) }

    var length: Int128 { end - start }
}

/// How the timeline is cut into the periods a window counter resets on.
enum PeriodScheme: Hashable {
    /// Periods of a fixed length aligned to the Unix epoch (UTC days are `microsecondsPerDay` long:
    /// Unix time has no leap seconds).
    case fixed(length: Int64)
    /// UTC calendar months.
    case calendarMonth

    static let microsecondsPerDay: Int64 = 86_400_000_000

    func period(containing instant: Int64) -> Period {
        switch self {
        case .fixed(let length):
            let length = Int128(length)
            let start = Int128(instant).dividedRoundingDown(by: length) * length
            return Period(start: start, end: start + length)
        case .calendarMonth:
            let day = Int64(Int128(instant).dividedRoundingDown(by: Int128(Self.microsecondsPerDay)))
            let date = CivilDate(daysSinceEpoch: day)
            let nextMonth = date.month == 12
                ? CivilDate(year: date.year + 1, month: 1, day: 1)
                : CivilDate(year: date.year, month: date.month + 1, day: 1)
            return Period(
                start: Int128(day - (date.day - 1)) * Int128(Self.microsecondsPerDay),
                end: Int128(nextMonth.daysSinceEpoch) * Int128(Self.microsecondsPerDay)
            )
        }
    }

    /// The period a stored window state is counted in at `now`. A clock that went back before the
    /// stored window keeps counting in the stored window instead of opening an earlier, empty
    /// one: that would admit the quantity again.
    func currentPeriod(storedStart: Int64, at now: Int64) -> Period {
        period(containing: max(now, storedStart))
    }
}

/// A date of the proleptic Gregorian calendar, converted to and from days since 1970-01-01 with
/// Howard Hinnant's algorithms (http://howardhinnant.github.io/date_algorithms.html): integer
/// only, exact for every day an `Int64` microsecond timestamp can name.
struct CivilDate: Hashable {
    var year: Int64
    /// 1...12
    var month: Int64
    /// 1...31
    var day: Int64

    init(year: Int64, month: Int64, day: Int64) {
        self.year = year
        self.month = month
        self.day = day
    }

    // The algorithms count in 400-year eras (146_097 days) of years starting on March 1, so the
    // leap day is the last day of its year; 719_468 is the day number of 1970-01-01 from 0000-03-01.
    private static let daysPerEra: Int64 = 146_097
    private static let epochOffset: Int64 = 719_468

    init(daysSinceEpoch: Int64) {
        let days = daysSinceEpoch + Self.epochOffset
        let era = (days >= 0 ? days : days - (Self.daysPerEra - 1)) / Self.daysPerEra
        let dayOfEra = days - era * Self.daysPerEra
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let marchBasedMonth = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * marchBasedMonth + 2) / 5 + 1
        month = marchBasedMonth < 10 ? marchBasedMonth + 3 : marchBasedMonth - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    var daysSinceEpoch: Int64 {
        let marchBasedYear = month <= 2 ? year - 1 : year
        let era = (marchBasedYear >= 0 ? marchBasedYear : marchBasedYear - 399) / 400
        let yearOfEra = marchBasedYear - era * 400
        let marchBasedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * marchBasedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * Self.daysPerEra + dayOfEra - Self.epochOffset
    }
}
