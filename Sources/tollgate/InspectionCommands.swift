public import ArgumentParser
import Foundation
import Tollgate

extension DumpTable: ExpressibleByArgument {}

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every record, decoded (never a secret or a full hash).",
        discussion: "Streams one read snapshot per table: constant memory on a store of millions of records.")
    @OptionGroup var storeOptions: StoreOptions
    @Option(name: .customLong("table"), help: "meta, tiers, keys, counters, usage or audit (repeat; default: all).")
    var tables: [DumpTable] = []
    @Option(help: "jsonl or table.") var format: String = "jsonl"

    func validate() throws {
        guard ["jsonl", "table"].contains(format) else { throw ValidationError("--format is jsonl or table") }
    }

    func run() throws {
        let store = try storeOptions.open(readOnly: true)
        defer { store.close() }
        var output = BufferedOutput()
        let total = try store.statistics().tables.reduce(0) { $0 + $1.records }
        var progress = Progress("dumping", total: total)
        try store.dump(tables.isEmpty ? DumpTable.allCases : tables) { record in
            output.write(format == "jsonl" ? record.jsonLine : record.textLine)
            progress.advance()
        }
        progress.finish()
        output.flush()
    }
}

/// Collects lines and writes them in large chunks.
struct BufferedOutput {
    private var buffer: [UInt8] = []

    mutating func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a store: its LMDB structure, every record and cross-reference.",
        discussion: """
            Exit status 0 when clean, 1 with the list of findings. Structural damage is recorded in \
            <store>/\(Store.damageMarkerName): read-write opens then fail (structural-damage) until \
            `check --clear-damage` finds the structure sound again. A store that cannot be opened gets \
            the structural check alone.
            """)
    @OptionGroup var storeOptions: StoreOptions
    @Flag(help: "Make counters and the usage ledger agree again (raises the lower one; says which was trusted).")
    var repair = false
    @Flag(help: "Remove the structural damage marker, once a structural check finds the store sound.")
    var clearDamage = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if repair && clearDamage { throw ValidationError("--repair and --clear-damage are separate steps") }
    }

    func run() throws {
        let path = try storeOptions.path()
        if clearDamage {
            try Store.clearStructuralDamage(path: path)
            if output.json { printJSON(["clean": true, "cleared": true] as [String: Any]) } else { print("structure sound; damage marker cleared") }
            return
        }
        var repairs: [CounterLedgerRepair] = []
        var findings: [IntegrityFinding]
        do {
            let store = try storeOptions.open(readOnly: !repair)
            defer { store.close() }
            if repair { repairs = try store.repairCounterLedgerDisagreements() }
            findings = try store.check()
        } catch let error as TollgateError where !repair && [.storage, .corruptRecord].contains(error.code) {
            // Too damaged for LMDB to open: the page walk does not need it to.
            findings = [IntegrityFinding(table: "store", problem: "cannot open: \(error.message)")] + (try Store.checkStructure(path: path))
        }
        if output.json {
            printJSON(["clean": findings.isEmpty, "findings": findings.map(\.description), "repairs": repairs.map(\.description)] as [String: Any])
        } else {
            for repair in repairs { print("repaired: \(repair)") }
            if findings.isEmpty { print("clean") }
            for finding in findings { print(finding) }
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A consistent copy of a live store, while servers write.")
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "A new directory for the copy.") var destination: String
    @Flag(help: "Leave free pages out.") var compact = false

    func run() throws {
        let store = try storeOptions.open(readOnly: true)
        defer { store.close() }
        var progress = Progress("backing up")
        progress.advance()
        try store.backup(to: destination, compact: compact)
        progress.finish()
        print("backed up \(try storeOptions.path()) to \(destination)")
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace a store with a backup, after checking the backup.",
        discussion: "Refuses to overwrite an existing store without --force. Stop the servers that use it first.")
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "The backup's directory.") var backup: String
    @Flag(help: "Replace an existing store.") var force = false

    func run() throws {
        let target = try storeOptions.path()
        var progress = Progress("checking and restoring")
        progress.advance()
        _ = try Store.restore(backup: backup, to: target, force: force, pepper: try storeOptions.pepper())
        progress.finish()
        print("restored \(backup) to \(target)")
    }
}

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete stale counters and expired rotation-grace records now.")
    @OptionGroup var storeOptions: StoreOptions
    @Option(help: "Deletions per write transaction.") var batchSize = 1_000
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try storeOptions.open()
        defer { store.close() }
        var progress = Progress("sweeping")
        let result = try store.sweep(batchSize: batchSize) { soFar in
            progress.advance(by: soFar.counters + soFar.rotatedKeys - progress.count)
        }
        progress.finish()
        if output.json {
            printJSON(["counters": result.counters, "rotated_keys": result.rotatedKeys, "batches": result.batches])
        } else {
            print("removed \(result.counters) stale counter(s) and \(result.rotatedKeys) expired rotated secret(s) in \(result.batches) batch(es)")
        }
    }
}

extension KeyCommand {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bulk-import existing key hashes (migration), one JSON object per line.",
            discussion: """
            Each line: {"hash": "<64 lowercase hex digits>", "owner": "...", "tier": "...", \
            "display_prefix": "tg_live_abcd…", "name": "...", "scopes": ["..."], "credits": N}. The hash is \
            SHA-256 of the key (or HMAC-SHA-256 with the store's pepper); credits is a JSON integer \
            (0 to 2^64-1). Lines end in LF or CRLF; blank lines are skipped. A line with an unknown field \
            or a value of the wrong type fails and is reported with its line number; the others are imported.
            """)
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The JSON-lines file, or - for standard input.") var file: String

        func run() throws {
            let store = try storeOptions.open()
            defer { store.close() }
            let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
            var imported = 0, failed = 0
            let lines = ImportLine.physicalLines([UInt8](data))
            var progress = Progress("importing", total: lines.count)
            defer { progress.finish() }
            for (number, text) in lines {
                progress.advance()
                guard !ImportLine.isBlank(text) else { continue }
                do {
                    let line = try ImportLine(parsing: text)
                    var request = NewKey(owner: line.owner, tier: line.tier, name: line.name ?? "", scopes: line.scopes ?? [])
                    request.credits = line.credits
                    _ = try store.importKey(hash: line.hash, displayPrefix: line.displayPrefix ?? "(imported)", request)
                    imported += 1
                } catch {
                    failed += 1
                    printError("line \(number): \(error)")
                }
            }
            print("imported \(imported) key(s), \(failed) failed")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}
