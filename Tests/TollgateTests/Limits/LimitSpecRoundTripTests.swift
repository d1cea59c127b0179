import Testing
@testable import Tollgate

/// `Limit.spec` printed and parsed back is the identity for every limit validation accepts, so
/// `tier list` pasted into a policy file means the same tiers.
@Suite("Limit spec round trip")
struct LimitSpecRoundTripTests {
    static let nameBytes = Array("abcxyzABCXYZ0123456789_-.:".utf8)

    static func randomName(_ rng: inout SplitMix64, maxLength: Int) -> String {
        switch UInt64.random(in: 0..<10, using: &rng) {
        case 0: return ["key", "owner", "global", "all", "second", "day", "month", "burst", "by"].randomElement(using: &rng)!
        case 1: return String(decoding: (0..<maxLength).map { _ in nameBytes.randomElement(using: &rng)! }, as: UTF8.self)
        default:
            let length = Int.random(in: 1...min(8, maxLength), using: &rng)
            return String(decoding: (0..<length).map { _ in nameBytes.randomElement(using: &rng)! }, as: UTF8.self)
        }
    }

    static func randomCount(_ rng: inout SplitMix64) -> UInt64 {
        switch UInt64.random(in: 0..<10, using: &rng) {
        case 0: return .max - UInt64.random(in: 0...3, using: &rng)
        case 1: return UInt64.random(in: 0...UInt64.max, using: &rng)
        default: return UInt64.random(in: 0...2_000, using: &rng)
        }
    }

    static func randomWindow(_ rng: inout SplitMix64, _ strategy: Strategy) -> Int64 {
        let units: [Int64] = [1, 1_000, 1_000_000, 60_000_000, 3_600_000_000, 86_400_000_000]
        switch UInt64.random(in: 0..<10, using: &rng) {
        case 0: return Limit.calendarWindow(strategy) ?? 86_400_000_000
        case 1: return .max - Int64.random(in: 0...3, using: &rng)
        case 2: return Int64.random(in: .min...1, using: &rng)
        case 3: return Int64.random(in: 1...Int64.max, using: &rng)
        default:
            let unit = units.randomElement(using: &rng)!
            return unit * Int64.random(in: 1...1_000, using: &rng) + (rng.chance(20) ? Int64.random(in: 1...999, using: &rng) : 0)
        }
    }

    static func randomLimit(_ rng: inout SplitMix64) -> Limit {
        let strategy = Strategy.allCases.randomElement(using: &rng)!
        let subject: LimitSubject
        switch UInt64.random(in: 0..<4, using: &rng) {
        case 0: subject = .key
        case 1: subject = .owner
        case 2: subject = .global
        default: subject = .custom(randomName(&rng, maxLength: Bounds.subjectName))
        }
        return Limit(
            name: randomName(&rng, maxLength: Bounds.name), strategy: strategy, quantity: randomCount(&rng),
            windowMicroseconds: randomWindow(&rng, strategy), burst: rng.chance(50) ? randomCount(&rng) : nil, subject: subject
        )
    }

    @Test("print → parse is the identity on 20,000 generated limits that validate")
    func printThenParseIsTheIdentity() {
        var rng = SplitMix64(seed: 0x5BEC)
        var failures: [String] = []
        var accepted = 0
        for _ in 0..<20_000 where failures.count < 5 {
            let limit = Self.randomLimit(&rng)
            guard (try? limit.validate()) != nil else { continue }
            accepted += 1
            do {
                let again = try Limit(spec: limit.spec)
                if again != limit { failures.append("\(limit.spec) reads back as \(again), not \(limit)") }
            } catch {
                failures.append("\(limit.spec) is refused: \(error)")
            }
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(accepted > 5_000, "the generator must mostly produce valid limits, got \(accepted)")
    }

    @Test("what the spec cannot print is refused by validation", arguments: [
        Limit(name: "x", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 1_000_000, burst: 10),
        Limit(name: "x", strategy: .slidingWindow, quantity: 5, windowMicroseconds: 1_000_000, burst: 5),
        Limit(name: "x", strategy: .calendarDay, quantity: 5, windowMicroseconds: 1_000_000, burst: 5),
        Limit(name: "x", strategy: .calendarDay, quantity: 5, windowMicroseconds: 1_000_000),
        Limit(name: "x", strategy: .calendarMonth, quantity: 5, windowMicroseconds: 86_400_000_000),
        Limit(name: "x", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 1_000_000, subject: .custom("all")),
        Limit(name: "x", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 1_000_000, subject: .custom("key")),
        Limit(name: "x", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 1_000_000, subject: .custom("owner")),
        Limit(name: "x", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 1_000_000, subject: .custom("global")),
    ])
    func unprintableLimitsAreRefused(_ limit: Limit) throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let error = #expect(throws: TollgateError.self) { try fixture.store.setTier(Tier(name: "t", limits: [limit])) }
        #expect(error?.code == .invalidArgument, "\(String(describing: error))")
    }

    @Test("a tier stored by an earlier version still reads, and its spec counts the same")
    func storedTiersKeepReading() throws {
        let old = Tier(name: "t", limits: [
            Limit(name: "a", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 1_000_000, burst: 10),
            Limit(name: "b", strategy: .calendarDay, quantity: 5, windowMicroseconds: 7),
            Limit(name: "c", strategy: .tokenBucket, quantity: 5, windowMicroseconds: 1_000_000, burst: 10),
        ])
        let read = try old.encoded().withUnsafeBytes { try Tier.decode($0) }
        #expect(read == old)
        #expect(try read.limits.map { try Limit(spec: $0.spec) } == [
            Limit(name: "a", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 1_000_000),
            Limit(name: "b", strategy: .calendarDay, quantity: 5, windowMicroseconds: 86_400_000_000),
            old.limits[2],
        ])
    }
}
