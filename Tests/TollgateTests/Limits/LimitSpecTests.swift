import Testing
@testable import Tollgate

@Suite struct LimitSpecTests {
    @Test(arguments: [
        ("10/second", Limit(name: "second", strategy: .fixedWindow, quantity: 10, windowMicroseconds: 1_000_000)),
        ("1000/day", Limit(name: "day", strategy: .calendarDay, quantity: 1_000, windowMicroseconds: 86_400_000_000)),
        ("5/month", Limit(name: "month", strategy: .calendarMonth, quantity: 5, windowMicroseconds: 2_592_000_000_000)),
        ("minute=100/minute:sliding", Limit(name: "minute", strategy: .slidingWindow, quantity: 100, windowMicroseconds: 60_000_000)),
        ("20/second:token-bucket,burst=40", Limit(name: "second", strategy: .tokenBucket, quantity: 20, windowMicroseconds: 1_000_000, burst: 40)),
        ("ip=5/second,by=ip", Limit(name: "ip", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 1_000_000, subject: .custom("ip"))),
        ("100/90s:gcra", Limit(name: "90s", strategy: .gcra, quantity: 100, windowMicroseconds: 90_000_000)),
        ("1/500ms,by=global", Limit(name: "500ms", strategy: .fixedWindow, quantity: 1, windowMicroseconds: 500_000, subject: .global)),
        ("org=1_000/1d,by=owner", Limit(name: "org", strategy: .fixedWindow, quantity: 1_000, windowMicroseconds: 86_400_000_000, subject: .owner)),
        ("1000/day:sliding", Limit(name: "day", strategy: .slidingWindow, quantity: 1_000, windowMicroseconds: 86_400_000_000)),
    ])
    func parses(_ spec: String, _ expected: Limit) throws {
        let limit = try Limit(spec: spec)
        #expect(limit == expected)
        #expect(try Limit(spec: limit.spec) == limit, "spec renders back to the same limit")
    }

    @Test(arguments: [
        ("", ""), ("10", "10"), ("0/second", "0"), ("x/second", "x"), ("10/fortnight", "fortnight"),
        ("10/0s", "0s"), ("10/second:weird", "weird"), ("10/second,burst=5", "burst=5"),
        ("10/second:gcra,burst=0", "burst=0"), ("10/second,by=a b", "by=a b"), ("10/second,colour=red", "colour=red"),
        ("bad name=10/second", "bad name"), ("10/second:calendar", "calendar"),
    ])
    func refusesAndPointsAtTheWrongPart(_ spec: String, _ part: String) {
        do {
            _ = try Limit(spec: spec)
            Issue.record("accepted \(spec)")
        } catch {
            #expect(error.part == part, "\(error)")
            #expect(!error.reason.isEmpty)
        }
    }

    @Test func theByteEntryPointAgreesAndGivesTheOffset() throws {
        for spec in ["org=1_000/1d:gcra,burst=5", "us=5/250µs", " 3/m , by=user ", "ip=5/second,by=ip"] {
            let fromBytes = try Array(spec.utf8).withUnsafeBytes { try Limit(specBytes: $0) }
            #expect(fromBytes == (try Limit(spec: spec)), "\(spec)")
        }
        #expect(try Limit(spec: "us=5/250µs").windowMicroseconds == 250)
        let error = #expect(throws: Limit.SpecError.self) { try Limit(spec: "10/second:gcra,burst=0") }
        #expect(error?.offset == 15)
        #expect(error?.part == "burst=0")
        let window = #expect(throws: Limit.SpecError.self) { try Limit(spec: "10/99999999999999999999s") }
        #expect(window?.reason.contains("positive count") == true, "a count beyond UInt64 is refused, not trapped on")
        let long = #expect(throws: Limit.SpecError.self) { try Limit(spec: "1/" + String(repeating: "9", count: 18) + "d") }
        #expect(long?.reason == "window too long")
    }

    @Test func refusesOversizedInputBeforeLookingAtIt() {
        let long = String(repeating: "9", count: 10_000) + "/second"
        let error = #expect(throws: Limit.SpecError.self) { try Limit(spec: long) }
        #expect(error?.description.count ?? 0 < 300)
    }

    @Test func randomInputNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789/=:,._-abcdeghimnorstuwy ".utf8)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let text = String(decoding: (0..<length).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self)
            _ = try? Limit(spec: text)
        }
    }
}
