import ArgumentParser
import Foundation
import Tollgate

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Issue and manage API keys.",
        subcommands: [Create.self, List.self, Show.self, Revoke.self, Disable.self, Enable.self, Rotate.self, SetTier.self, Credits.self, Import.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a key; prints its secret once.")
        @OptionGroup var storeOptions: StoreOptions
        @Option var tier: String
        @Option var owner: String
        @Option var name = ""
        @Option(name: .customLong("scope"), help: "A scope the key grants (repeat).") var scopes: [String] = []
        @Option(help: "A duration (30d, 12h) or a date (2027-01-31).") var expires: String?
        @Option var credits: UInt64?
        @Option(help: "Credits refill: N/day or N/month.") var refill: String?
        @Option(name: .customLong("meta"), help: "Metadata key=value (repeat).") var metadata: [String] = []
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            defer { store.close() }
            var request = NewKey(owner: owner, tier: tier, name: name, scopes: scopes, credits: credits)
            if let expires { request.expiresAt = try parseExpiry(expires, now: SystemClock().now()) }
            if let refill {
                let parts = refill.split(separator: "/")
                guard parts.count == 2, let amount = UInt64(parts[0]), let period = ["day": CreditRefill.Period.day, "month": .month][String(parts[1])] else {
                    throw ValidationError("--refill takes N/day or N/month")
                }
                request.refill = CreditRefill(amount: amount, period: period)
            }
            for entry in metadata {
                guard let equals = entry.firstIndex(of: "=") else { throw ValidationError("--meta takes key=value") }
                request.metadata[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
            }
            let issued = try store.createKey(request)
            if output.json {
                printJSON(["secret": issued.secret, "key": keyJSON(issued.info)] as [String: Any])
            } else {
                print(issued.secret)
            }
            printError("Key \(issued.info.id) created. This is the only time its secret is shown: store it now.")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var storeOptions: StoreOptions
        @Option var owner: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open(readOnly: true)
            defer { store.close() }
            let keys = try owner.map { try store.keys(owner: $0) } ?? store.allKeys()
            if output.json {
                printJSON(keys.map(keyJSON))
            } else {
                for key in keys {
                    print("\(key.id)  \(key.displayPrefix.padding(toLength: 14, withPad: " ", startingAt: 0))  \(key.state)  \(key.owner)  \(key.tier)")
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one key.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument var id: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open(readOnly: true)
            defer { store.close() }
            guard let key = try store.key(id: id) else { throw ValidationError("no key with id \(id)") }
            if output.json {
                printJSON(keyJSON(key))
            } else {
                for (field, value) in keyJSON(key).sorted(by: { $0.key < $1.key }) { print("\(field.padding(toLength: 14, withPad: " ", startingAt: 0)) \(value)") }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key, immediately and for good.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument var id: String
        func run() throws {
            let store = try storeOptions.open()
            defer { store.close() }
            try store.revokeKey(id: id)
            print("revoked \(id)")
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a key until enabled again.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument var id: String
        func run() throws {
            let store = try storeOptions.open()
            defer { store.close() }
            try store.disableKey(id: id)
            print("disabled \(id)")
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled key.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument var id: String
        func run() throws {
            let store = try storeOptions.open()
            defer { store.close() }
            try store.enableKey(id: id)
            print("enabled \(id)")
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a new secret; the old one works for --grace.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument var id: String
        @Option(help: "How long the old secret keeps working (e.g. 24h).") var grace: String?
        func run() throws {
            let store = try storeOptions.open()
            defer { store.close() }
            let issued = try store.rotateKey(id: id, grace: try grace.map(parseDuration) ?? .zero)
            print(issued.secret)
            printError("Key \(id) rotated. This is the only time the new secret is shown: store it now.")
        }
    }

    struct SetTier: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-tier", abstract: "Move a key to another tier.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument var id: String
        @Argument var tier: String
        func run() throws {
            let store = try storeOptions.open()
            defer { store.close() }
            try store.setTier(ofKey: id, to: tier)
            print("\(id) is on tier \(tier)")
        }
    }

    struct Credits: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add credits to a key.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument var id: String
        @Option var add: UInt64
        func run() throws {
            let store = try storeOptions.open()
            defer { store.close() }
            try store.addCredits(add, toKey: id)
            print("\(id) has \(try store.key(id: id)?.credits ?? 0) credits")
        }
    }
}

/// A key's fields for `--json`, from the library's one description of a key (absent values left out).
func keyJSON(_ key: KeyInfo) -> [String: Any] {
    var json: [String: Any] = [:]
    for (name, value) in DumpRecord(key: key).fields {
        switch value {
        case .string(let string): json[name] = string
        case .integer(let number): json[name] = number
        case .unsigned(let number): json[name] = number
        case .bool(let flag): json[name] = flag
        case .list(let strings): json[name] = strings
        case .map(let entries): json[name] = entries
        case .null: break
        }
    }
    return json
}
