// Fuzz target `limits`: the LIMIT SPEC parser (`Limit(specBytes:)`) and the policy-file parser
// (`PolicyFile(parsing:)`), both on the same input bytes.
//
// Properties: nothing traps; what parses renders back (`Limit.spec`, `PolicyFile.text`) to text
// that parses to an equal value; an error's description stays short whatever the input. The same
// bytes also build a `Limit` field by field: if it validates, its spec must read back to it.
import Tollgate

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLimits(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    do {
        let limit = try Limit(specBytes: input)
        guard let again = try? Limit(spec: limit.spec), again == limit else { fatalError("\(limit.spec) does not read back to \(limit)") }
    } catch {
        if error.description.utf8.count > 2 * Limit.maximumSpecLength + 300 { fatalError("spec error of \(error.description.utf8.count) bytes") }
        if let text = String(validating: input, as: UTF8.self) {
            do { _ = try Limit(spec: text); fatalError("Limit(spec:) accepts what Limit(specBytes:) refuses") } catch let stringError {
                if stringError != error { fatalError("String and byte parsers disagree: \(stringError) vs \(error)") }
            }
        }
    }
    do {
        let policy = try PolicyFile(parsing: input)
        guard let again = try? PolicyFile(parsing: policy.text), again == policy else { fatalError("policy text does not read back:\n\(policy.text)") }
    } catch {
        if error.description.utf8.count > 600 { fatalError("policy error of \(error.description.utf8.count) bytes") }
    }
    checkBuiltLimit(input)
    return 0
}

/// A limit from raw fields (strategy, quantity, window, burst, subject, names), so print → parse is
/// tried on limits the parser would never produce, such as a burst on a window or a subject `all`.
func checkBuiltLimit(_ input: UnsafeRawBufferPointer) {
    guard input.count >= 20 else { return }
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(input[at + $1]) } }
    let strategy = Strategy.allCases[Int(input[0]) % Strategy.allCases.count]
    let small = input[1] & 0x80 == 0
    let quantity = small ? u64(2) % 1_000 : u64(2)
    let window = Int64(bitPattern: small ? u64(10) % 100_000_000_000 : u64(10))
    let burst: UInt64? = input[1] & 0x01 == 0 ? nil : UInt64(input[18])
    let words = String(decoding: input[20...], as: UTF8.self).split(separator: " ", maxSplits: 1).map(String.init)
    let name = words.first ?? "x"
    let subject: LimitSubject
    switch input[19] % 4 {
    case 0: subject = .key
    case 1: subject = .owner
    case 2: subject = .global
    default: subject = .custom(words.count > 1 ? words[1] : name)
    }
    let limit = Limit(name: name, strategy: strategy, quantity: quantity, windowMicroseconds: window, burst: burst, subject: subject)
    guard (try? limit.validate()) != nil else { return }
    let again: Limit
    do { again = try Limit(spec: limit.spec) } catch { fatalError("a valid limit's spec \(limit.spec) is refused: \(error)") }
    if again != limit { fatalError("\(limit.spec) reads back as \(again), not \(limit)") }
}
