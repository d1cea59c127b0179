/// JSON string escaping (RFC 8259) for the package's modules that write JSON by hand — the dump here,
/// the problem bodies of `TollgateHTTP` — so there is one implementation (the dump's) and one
/// answer to what a control character in a limit name looks like.
package enum JSONString {
    /// `value` as a quoted JSON string.
    package static func quoted(_ value: String) -> String { DumpRecord.json(value) }
}
