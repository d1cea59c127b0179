import ArgumentParser
import Foundation
import Tollgate

@main
struct TollgateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tollgate",
        abstract: "Administer and inspect a Tollgate key-and-quota store.",
        discussion: """
        Every command takes --store PATH (or the TOLLGATE_STORE environment variable). A store created \
        with a pepper needs it on every open: set TOLLGATE_PEPPER or pass --pepper-file.

        \(ExitStatus.table)
        """,
        subcommands: [Init.self, Stats.self, TierCommand.self, KeyCommand.self, Authorize.self, Peek.self, Usage.self, Dump.self, Check.self, Backup.self, Restore.self, Sweep.self]
    )
}

/// Where the store is and how to open it.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store's directory (default: $TOLLGATE_STORE).")
    var store: String?

    @Option(name: .long, help: "A file holding the pepper (default: $TOLLGATE_PEPPER).")
    var pepperFile: String?

    func path() throws -> String {
        if let store { return store }
        if let fromEnvironment = ProcessInfo.processInfo.environment["TOLLGATE_STORE"], !fromEnvironment.isEmpty { return fromEnvironment }
        throw ValidationError("no store given: pass --store PATH or set TOLLGATE_STORE")
    }

    func pepper() throws -> Pepper? {
        if let pepperFile { return try Pepper(contentsOfFile: pepperFile) }
        return try Pepper.fromEnvironment()
    }

    /// Opens an existing store.
    func open(readOnly: Bool = false) throws -> Store {
        var options = Store.Options(path: try path())
        options.pepper = try pepper()
        options.create = false
        options.readOnly = readOnly
        options.defaultActor = "cli"
        return try Store(options: options)
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON.")
    var json = false
}

/// Prints a JSON value with sorted keys, one line.
func printJSON(_ value: Any) {
    guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
    print(String(decoding: data, as: UTF8.self))
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// `7d`, `12h`, `90s`, `30m`, or an ISO 8601 date/time → a timestamp.
func parseExpiry(_ text: String, now: Timestamp) throws -> Timestamp {
    if let limit = try? Limit(spec: "1/\(text)") {
        return now.adding(microseconds: limit.windowMicroseconds)
    }
    // Foundation's ISO 8601 parser rolls a day that does not exist over (2027-02-30 reads as
    // 2027-03-02): an expiry must be a real date, so the fields are checked first.
    if CalendarText.looksLikeDate(text) { try CalendarText.validate(text) }
    // A date outside the `Int64` microsecond range would trap in `Int64(_:)`; the
    // `Double` → `Int64` conversion clamps instead. Past dates are refused by `createKey`.
    if let date = (try? Date(text, strategy: .iso8601)) ?? (try? Date(text + "T00:00:00Z", strategy: .iso8601)) {
        return Timestamp(microseconds: Int64(clampingMicroseconds: date.timeIntervalSince1970 * 1_000_000))
    }
    throw ValidationError("'\(text)' is neither a duration (7d, 12h, 90s) nor a date (2027-01-31 or 2027-01-31T12:00:00Z)")
}

extension Int64 {
    init(clampingMicroseconds value: Double) {
        if value.isNaN { self = 0 } else if value >= 9.2e18 { self = .max } else if value <= -9.2e18 { self = .min } else { self = Int64(value) }
    }
}

func parseDuration(_ text: String) throws -> Duration {
    guard let limit = try? Limit(spec: "1/\(text)"), limit.strategy == .fixedWindow else {
        throw ValidationError("'\(text)' is not a duration (500ms, 90s, 15m, 2h, 7d)")
    }
    return .microseconds(limit.windowMicroseconds)
}
