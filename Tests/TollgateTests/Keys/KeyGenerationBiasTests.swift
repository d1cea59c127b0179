import Testing
@testable import Tollgate
import TollgateTestSupport

/// Key bodies are drawn by rejection sampling (bytes ≥ 248 are redrawn) so each of the 62 digits
/// is equally likely; a plain `byte % 62` would make 0–7 a quarter likelier and cost entropy.
/// A chi-square test over a seeded generator is deterministic: it cannot flake, and it fails for
/// the modulo-biased variant (checked by switching the rejection off).
@Suite struct KeyGenerationBiasTests {
    /// χ² critical value for 61 degrees of freedom at p = 0.001.
    static let critical = 100.9

    static func chiSquare(_ counts: [Int]) -> Double {
        let total = counts.reduce(0, +)
        let expected = Double(total) / Double(counts.count)
        return counts.reduce(0.0) { sum, count in sum + (Double(count) - expected) * (Double(count) - expected) / expected }
    }

    static func index(of digit: UInt8) -> Int? { Base62.digits.firstIndex(of: digit) }

    @Test(arguments: [UInt64(1), 2, 3])
    func everyDigitIsEquallyLikelyInEveryPosition(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        var all = [Int](repeating: 0, count: 62)
        var first = [Int](repeating: 0, count: 62)
        for _ in 0..<4_000 {
            var body: [UInt8] = []
            Base62.appendRandomDigits(KeyFormat.bodyLength, to: &body, using: &generator)
            #expect(body.count == KeyFormat.bodyLength)
            for (position, digit) in body.enumerated() {
                guard let index = Self.index(of: digit) else { Issue.record("not a base-62 digit: \(digit)"); return }
                all[index] += 1
                if position == 0 { first[index] += 1 }
            }
        }
        #expect(Self.chiSquare(all) < Self.critical, "χ² over all positions: \(Self.chiSquare(all))")
        #expect(Self.chiSquare(first) < Self.critical, "χ² of the first position: \(Self.chiSquare(first))")
    }
}
