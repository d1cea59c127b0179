// Fuzz target `keys`: the presented-key parser (prefix, length, alphabet, checksum).
//
// The input is a presented key as it arrives in a header. With a 0x00 byte in it, the bytes
// before the first 0x00 are also tried as a key prefix (`KeyFormat(prefix:)`), and the bytes
// after it parsed with that format. Properties: nothing traps; the byte and String entry points
// agree; an accepted key is exactly the format's length, and a key the format generates parses.
import Tollgate
import TollgateTestSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeys(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    check(.default, input)
    if let zero = input.firstIndex(of: 0) {
        let prefix = String(decoding: input[..<zero], as: UTF8.self)
        if let format = try? KeyFormat(prefix: prefix) {
            check(format, UnsafeRawBufferPointer(rebasing: input[(zero + 1)...]))
            var generator = SeededGenerator(seed: UInt64(size))
            let generated = format.generate(using: &generator)
            guard format.parse(generated) == nil else { fatalError("a generated key of prefix \(prefix) does not parse") }
        }
    }
    return 0
}

func check(_ format: KeyFormat, _ bytes: UnsafeRawBufferPointer) {
    let rejection = format.parse(bytes)
    if rejection == nil, bytes.count != format.keyLength { fatalError("accepted a key of \(bytes.count) bytes") }
    if let text = String(validating: bytes, as: UTF8.self), format.parse(text) != rejection {
        fatalError("parse(String) says \(String(describing: format.parse(text))), parse(bytes) \(String(describing: rejection))")
    }
    if rejection == nil { _ = format.displayPrefix(of: String(decoding: bytes, as: UTF8.self)) }
}
