import Testing
@testable import Tollgate

// Day numbers (days since 1970-01-01) below were computed with Python's `datetime`.
private let jan1st2024: Int64 = 19_723
private let feb1st2024: Int64 = 19_754
private let mar1st2024: Int64 = 19_783
private let feb1st2023: Int64 = 19_389
private let mar1st2023: Int64 = 19_417
private let dec1st2023: Int64 = 19_692

@Suite("Calendar quotas")
struct CalendarQuotaTests {
    // The window is ignored by calendar strategies.
    let threePerMonth = limit(.calendarMonth, quantity: 3, window: 5)
    let twoPerDay = limit(.calendarDay, quantity: 2, window: 5)

    /// Exhausts the monthly quota on the last microsecond before `boundary` and checks the next
    /// month starts afresh exactly at `boundary`.
    func checkMonthBoundary(lastMonthStart: Int64, boundary: Int64) {
        var run = LimiterRun(threePerMonth)
        let lastMicrosecond = midnight(ofDay: boundary).adding(microseconds: -1)
        #expect(run.admitAll(at: lastMicrosecond) == 3)
        #expect(run.state == .window(start: midnight(ofDay: lastMonthStart).microseconds, count: 3))
        let denied = run.request(at: lastMicrosecond)
        #expect(denied == LimitCheck(allowed: false, remaining: 0, resetAfter: 1, retryAfter: 1, neverFits: false))
        #expect(run.admitAll(at: midnight(ofDay: boundary)) == 3)
        #expect(run.state == .window(start: midnight(ofDay: boundary).microseconds, count: 3))
    }

    @Test("January 31 → February 1")
    func januaryToFebruary() {
        checkMonthBoundary(lastMonthStart: jan1st2024, boundary: feb1st2024)
    }

    @Test("February 29 → March 1 in a leap year, February 28 → March 1 otherwise")
    func februaryEnds() {
        checkMonthBoundary(lastMonthStart: feb1st2024, boundary: mar1st2024)
        checkMonthBoundary(lastMonthStart: feb1st2023, boundary: mar1st2023)
        #expect(threePerMonth.windowLength(at: midnight(ofDay: feb1st2024 + 14)) == 29 * microsecondsPerDay)
        #expect(threePerMonth.windowLength(at: midnight(ofDay: feb1st2023 + 14)) == 28 * microsecondsPerDay)
    }

    @Test("December 31 → January 1")
    func decemberToJanuary() {
        checkMonthBoundary(lastMonthStart: dec1st2023, boundary: jan1st2024)
        #expect(threePerMonth.windowLength(at: midnight(ofDay: dec1st2023)) == 31 * microsecondsPerDay)
    }

    @Test("century leap rules: 1900 and 2100 have a 28-day February, 2000 a 29-day one")
    func centuryLeapYears() {
        for (february, march) in [(-25_536, -25_508), (10_988, 11_017), (47_513, 47_541)] as [(Int64, Int64)] {
            #expect(threePerMonth.windowLength(at: midnight(ofDay: february)) == (march - february) * microsecondsPerDay)
            checkMonthBoundary(lastMonthStart: february, boundary: march)
        }
    }

    @Test("the month before the epoch: December 1969")
    func beforeTheEpoch() {
        let (check, state) = threePerMonth.evaluate(nil, cost: 1, at: micros(-1))
        #expect(state == .window(start: -31 * microsecondsPerDay, count: 1))
        #expect(check.resetAfter == 1)
    }

    @Test("calendar days reset at UTC midnight")
    func calendarDay() {
        var run = LimiterRun(twoPerDay)
        let lateEvening = midnight(ofDay: feb1st2024).adding(microseconds: 23 * 3_600 * microsecondsPerSecond)
        #expect(run.admitAll(at: lateEvening) == 2)
        #expect(run.request(at: lateEvening).retryAfter == 3_600 * microsecondsPerSecond)
        #expect(run.admitAll(at: midnight(ofDay: feb1st2024 + 1)) == 2)
        #expect(twoPerDay.windowLength(at: lateEvening) == microsecondsPerDay)
    }

    @Test("civil dates match a day-by-day walk of the Gregorian calendar from 1600 to 2400")
    func civilDatesAgainstNaiveWalk() {
        func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }
        func length(of month: Int64, in year: Int64) -> Int64 {
            switch month {
            case 2: isLeap(year) ? 29 : 28
            case 4, 6, 9, 11: 30
            default: 31
            }
        }
        var day: Int64 = -135_140 // 1600-01-01
        var mismatches = 0
        for year in Int64(1600)...2400 {
            for month in Int64(1)...12 {
                for dayOfMonth in 1...length(of: month, in: year) {
                    let expected = CivilDate(year: year, month: month, day: dayOfMonth)
                    if CivilDate(daysSinceEpoch: day) != expected || expected.daysSinceEpoch != day { mismatches += 1 }
                    day += 1
                }
            }
        }
        #expect(mismatches == 0)
        #expect(day == 157_420) // 2401-01-01
    }

    @Test("civil dates round-trip at the ends of the Int64 microsecond timeline")
    func civilDateExtremes() {
        for day in [Int64.min / microsecondsPerDay - 1, Int64.min / microsecondsPerDay, -1, 0, Int64.max / microsecondsPerDay] {
            #expect(CivilDate(daysSinceEpoch: day).daysSinceEpoch == day)
        }
        for now in [Int64.min, Int64.max] {
            let length = threePerMonth.windowLength(at: micros(now))
            #expect((28 * microsecondsPerDay...31 * microsecondsPerDay).contains(length))
        }
    }
}
