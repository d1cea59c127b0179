// Fuzz target `limits`: the LIMIT SPEC parser (`Limit(specBytes:)`) and the policy-file parser
// (`PolicyFile(parsing:)`), both on the same input bytes.
//
// Properties: nothing traps; what parses renders back (`Limit.spec`, `PolicyFile.text`) to text
// that parses to an equal value; an error's description stays short whatever the input.
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
    return 0
}
