import ArgumentParser
import Foundation
import Tollgate

struct TierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tier", abstract: "Create, list, show and remove tiers.",
        subcommands: [Set.self, Apply.self, List.self, Show.self, Remove.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace a tier.",
            discussion: """
            A limit SPEC is [NAME=]QUANTITY/WINDOW[:STRATEGY][,burst=N][,by=SUBJECT]
              WINDOW    second | minute | hour | day | month,
                        or a duration: 500ms, 90s, 15m, 2h, 7d
                        (day, month: UTC calendar quotas; 24h, 30d: fixed)
              STRATEGY  fixed (default) | sliding | sliding-log | token-bucket | gcra
              burst     token-bucket and gcra capacity (default: QUANTITY)
              by        key (default) | owner | global | a request subject
                        such as ip, user or route
            Examples: 10/second  1000/day  minute=100/minute:sliding
                      20/second:token-bucket,burst=40  ip=5/second,by=ip

            """)

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The tier's name.") var name: String
        @Option(name: .customLong("limit"), help: "A limit SPEC (repeat for several).") var limits: [String] = []

        func run() throws {
            var parsed: [Limit] = []
            for spec in limits {
                do { parsed.append(try Limit(spec: spec)) } catch { throw ValidationError(error.description) }
            }
            let store = try storeOptions.open()
            defer { store.close() }
            try store.setTier(Tier(name: name, limits: parsed))
            print("tier \(name): " + (parsed.isEmpty ? "no limits" : parsed.map(\.spec).joined(separator: "  ")))
        }
    }

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update the tiers of a policy file, all in one transaction.",
            discussion: """
            A policy file declares one tier per line: 'tier NAME:' and its limit SPECs
            (as 'tier set --limit' takes them), separated by spaces; '#' starts a comment.
              # tiers.policy
              tier free:  10/second  day=1000/day
              tier pro:   50/second:token-bucket,burst=100  day=100000/day
            Tiers of the store that the file does not name are kept. Either every tier
            is applied or, on any error, none. FILE '-' reads standard input.

            """)

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The policy file ('-': standard input).") var file: String
        @Flag(help: "Print what would change; write nothing.") var dryRun = false

        func run() throws {
            let policy: PolicyFile
            if file == "-" {
                let data = try FileHandle.standardInput.read(upToCount: PolicyFile.maximumFileLength + 1) ?? Data()
                do { policy = try data.withUnsafeBytes { bytes throws(PolicyFile.ParseError) in try PolicyFile(parsing: bytes) } } catch {
                    throw ValidationError("standard input: \(error)")
                }
            } else {
                do { policy = try PolicyFile(contentsOfFile: file) } catch { throw ValidationError(error.message) }
            }
            let store = try storeOptions.open(readOnly: dryRun)
            defer { store.close() }
            let changes = try store.applyTiers(policy.tiers, dryRun: dryRun)
            var counts = (created: 0, replaced: 0, unchanged: 0)
            func specs(_ tier: Tier) -> String { tier.limits.isEmpty ? "no limits" : tier.limits.map(\.spec).joined(separator: "  ") }
            let verb = dryRun ? "would " : ""
            for change in changes {
                switch change {
                case .create(let tier):
                    counts.created += 1
                    print("\(verb)create tier \(tier.name): \(specs(tier))")
                case .replace(let old, let new):
                    counts.replaced += 1
                    print("\(verb)replace tier \(new.name): \(specs(old))  →  \(specs(new))")
                case .unchanged(let tier):
                    counts.unchanged += 1
                    print("unchanged tier \(tier.name)")
                }
            }
            print((dryRun ? "dry run, nothing written: " : "applied: ") + "\(counts.created) created, \(counts.replaced) replaced, \(counts.unchanged) unchanged")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tiers.")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open(readOnly: true)
            defer { store.close() }
            let tiers = try store.tiers()
            if output.json {
                printJSON(tiers.map { ["name": $0.name, "limits": $0.limits.map(\.spec)] as [String: Any] })
            } else {
                for tier in tiers { print(tier.name.padding(toLength: 16, withPad: " ", startingAt: 0) + tier.limits.map(\.spec).joined(separator: "  ")) }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one tier.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument var name: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open(readOnly: true)
            defer { store.close() }
            guard let tier = try store.tier(named: name) else { throw ValidationError("no tier named \(name)") }
            if output.json {
                printJSON(["name": tier.name, "limits": tier.limits.map(\.spec)] as [String: Any])
            } else {
                print("tier \(tier.name)")
                for limit in tier.limits { print("  \(limit.spec)") }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a tier (refused while keys use it, unless --force with --replacement).")
        @OptionGroup var storeOptions: StoreOptions
        @Argument var name: String
        @Flag(help: "Move the tier's keys to --replacement.") var force = false
        @Option(help: "The tier to move keys to.") var replacement: String?

        func validate() throws {
            if force && replacement == nil { throw ValidationError("--force needs --replacement TIER") }
        }

        func run() throws {
            let store = try storeOptions.open()
            defer { store.close() }
            try store.removeTier(named: name, movingKeysTo: force ? replacement : nil)
            print("removed tier \(name)")
        }
    }
}
