/// A case's finding: what was expected, what the backend did, and where the case checked it.
/// Messages name keys by id, never by secret.
public struct ConformanceFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var file: String
    public var line: Int

    public init(_ message: String, file: StaticString = #fileID, line: UInt = #line) {
        self.message = message
        self.file = String(describing: file)
        self.line = Int(line)
    }

    public var description: String { "\(message) [\(file):\(line)]" }
}

/// Fails the case with `message` unless `condition` holds.
func check(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) throws(ConformanceFailure) {
    guard condition else { throw ConformanceFailure(message(), file: file, line: line) }
}

/// Fails the case unless `actual == expected`, saying which value differed.
func expect<T: Equatable>(_ actual: T, _ expected: T, _ what: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) throws(ConformanceFailure) {
    guard actual == expected else {
        throw ConformanceFailure("\(what()): expected \(expected), got \(actual)", file: file, line: line)
    }
}
