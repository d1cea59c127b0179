import ArgumentParser
import Foundation
import Tollgate

/// What `authorize` and `peek` share.
struct DecisionOptions: ParsableArguments {
    @Argument(help: "The API key, or - to read it from standard input (keeps it out of shell history).")
    var key: String
    @Option var cost: UInt64 = 1
    @Option var scope: String?
    @Option(name: .customLong("subject"), help: "A request subject NAME=VALUE, e.g. ip=203.0.113.7 (repeat).")
    var subjects: [String] = []

    func presentedKey() throws -> String {
        guard key == "-" else { return key }
        guard let line = readLine(strippingNewline: true) else { throw ValidationError("no key on standard input") }
        return line.trimmingCharacters(in: .whitespaces)
    }

    /// The request these options describe.
    func request() throws -> AuthorizationRequest {
        AuthorizationRequest(key: try presentedKey(), cost: cost, scope: scope, subjects: try subjectValues())
    }

    func subjectValues() throws -> [String: String] {
        var values: [String: String] = [:]
        for entry in subjects {
            guard let equals = entry.firstIndex(of: "=") else { throw ValidationError("--subject takes NAME=VALUE") }
            values[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        return values
    }
}

struct Authorize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take one real decision (consumes quota).",
        discussion: "Exit status: 0 allowed, 2 denied by a limit or credits, 3 key rejected, 1 any other error.")
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var decisionOptions: DecisionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let store = try storeOptions.open()
        defer { store.close() }
        try await decide(with: store)
    }

    /// All of the command but opening the store: it runs on any ``Authorizer``.
    func decide(with authorizer: some Authorizer) async throws {
        try report(try await authorizer.authorize(try decisionOptions.request(), timeout: nil), json: output.json)
    }
}

struct Peek: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The decision authorize would take, without consuming anything.",
        discussion: "Exit status as for authorize.")
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var decisionOptions: DecisionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let store = try storeOptions.open(readOnly: true)
        defer { store.close() }
        try await decide(with: store)
    }

    /// All of the command but opening the store: it runs on any ``Authorizer``.
    func decide(with authorizer: some Authorizer) async throws {
        try report(try await authorizer.peek(try decisionOptions.request()), json: output.json)
    }
}

func report(_ decision: Decision, json: Bool) throws {
    if json {
        var object: [String: Any] = [
            "allowed": decision.isAllowed,
            "outcome": decision.outcome.rawValue,
            "limits": decision.limits.map { limit in
                [
                    "name": limit.name, "limit": limit.quantity, "window_seconds": Double(limit.windowMicroseconds) / 1_000_000,
                    "remaining": limit.remaining, "reset_seconds": Double(limit.resetAfter) / 1_000_000, "subject": limit.subject,
                ] as [String: Any]
            },
        ]
        if let key = decision.key {
            object["key"] = ["id": key.id, "owner": key.owner, "tier": key.tier, "scopes": key.scopes] as [String: Any]
        }
        object["retry_after_seconds"] = decision.retryAfter.map { Double($0) / 1_000_000 } ?? NSNull()
        object["credits_remaining"] = decision.creditsRemaining.map { $0 as Any } ?? NSNull()
        printJSON(object)
    } else {
        var line = decision.outcome.rawValue
        if let key = decision.key { line += "  key \(key.id) (owner \(key.owner), tier \(key.tier))" }
        if let rejection = decision.keyRejection { line += "  (\(rejection.rawValue))" }
        print(line)
        for limit in decision.limits {
            let window = Double(limit.windowMicroseconds) / 1_000_000
            print("  \(limit.name): \(limit.remaining) of \(limit.quantity) left per \(window.formatted())s, resets in \((Double(limit.resetAfter) / 1_000_000).formatted())s\(limit.allowed ? "" : "  ← refused")")
        }
        if let credits = decision.creditsRemaining { print("  credits: \(credits) left") }
        if let retry = decision.retryAfter { print("  retry after \((Double(retry) / 1_000_000).formatted())s") }
        if decision.neverSucceeds { print("  the cost exceeds what a limit can ever admit") }
    }
    switch decision.outcome {
    case .allowed: return
    case .rateLimited, .creditsExhausted: throw ExitCode(2)
    default: throw ExitCode(3)
    }
}

struct Usage: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A key's daily usage.")
    @OptionGroup var storeOptions: StoreOptions
    @Argument var id: String
    @Option var days = 30
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try storeOptions.open(readOnly: true)
        defer { store.close() }
        let usage = try store.usage(keyID: id, days: days)
        if output.json {
            printJSON(usage.map { ["day": Timestamp.isoDate(day: $0.day), "allowed": $0.allowed, "denied": $0.denied, "consumed": $0.consumed] as [String: Any] })
            return
        }
        let widest = max(usage.map(\.allowed).max() ?? 1, 1)
        print("day          allowed   denied  consumed")
        for day in usage {
            let bar = String(repeating: "█", count: Int(day.allowed * 30 / widest))
            print("\(Timestamp.isoDate(day: day.day))  \(String(day.allowed).leftPadded(8)) \(String(day.denied).leftPadded(8)) \(String(day.consumed).leftPadded(9))  \(bar)")
        }
    }
}
