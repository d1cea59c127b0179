import ArgumentParser
import Foundation
import Tollgate

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a store.")

    @OptionGroup var storeOptions: StoreOptions
    @Option(help: "Initial map size in MiB (the map grows by itself).") var mapSize = 64
    @Option(help: "Prefix of the keys this store issues.") var keyPrefix = "tg_live_"
    @Option(help: "Key hashing: sha256, or hmac-sha256 (needs a pepper).") var hashScheme: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        let path = try storeOptions.path()
        if let size = (try? FileManager.default.attributesOfItem(atPath: path + "/data.mdb"))?[.size] as? Int {
            // Never create over a store that was lost before its first sync: that is for the
            // operator to decide, knowing what happened.
            throw ValidationError(size == 0
                ? "the store at \(path) was never synced: its data file is empty (remove \(path)/data.mdb to create a new store there)"
                : "\(path) already holds a store")
        }
        var options = Store.Options(path: path)
        options.pepper = try storeOptions.pepper()
        options.keyPrefix = keyPrefix
        options.mapSize = mapSize << 20
        options.defaultActor = "cli"
        switch hashScheme {
        case nil: break
        case "sha256": options.hashScheme = .sha256
        case "hmac-sha256": options.hashScheme = .hmacSHA256
        case let other?: throw ValidationError("unknown hash scheme '\(other)': use sha256 or hmac-sha256")
        }
        let store = try Store(options: options)
        defer { store.close() }
        if output.json {
            printJSON(["path": path, "store_id": store.meta.storeID, "hash_scheme": store.meta.hashScheme.description, "key_prefix": store.meta.keyPrefix])
        } else {
            print("Created store \(store.meta.storeID) at \(path) (keys \(store.meta.keyPrefix)…, \(store.meta.hashScheme))")
        }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Record counts, sizes and settings of a store.")

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try storeOptions.open(readOnly: true)
        defer { store.close() }
        let stats = try store.statistics()
        if output.json {
            printJSON([
                "path": stats.path, "format_version": stats.formatVersion, "store_id": stats.storeID,
                "hash_scheme": stats.hashScheme.description, "key_prefix": stats.keyPrefix, "durability": stats.durability,
                "file_bytes": stats.fileBytes, "map_bytes": stats.mapBytes, "used_bytes": stats.usedBytes, "page_size": stats.pageSize,
                "reader_slots": stats.readerSlots, "readers_in_use": stats.readersInUse, "lmdb_version": stats.lmdbVersion,
                "tables": Dictionary(uniqueKeysWithValues: stats.tables.map { ($0.name, ["records": $0.records, "pages": $0.pages, "depth": $0.depth]) }),
            ] as [String: Any])
            return
        }
        print("store        \(stats.path)")
        print("store id     \(stats.storeID), format \(stats.formatVersion), created \(stats.createdAt.iso8601)")
        print("keys         \(stats.keyPrefix)…, hashed with \(stats.hashScheme)")
        print("file         \(stats.fileBytes) bytes; map \(stats.mapBytes) bytes, \(stats.usedBytes) used (\(stats.usedBytes * 100 / max(stats.mapBytes, 1))%), pages of \(stats.pageSize)")
        print("readers      \(stats.readersInUse) in use of \(stats.readerSlots)")
        print("LMDB         \(stats.lmdbVersion)")
        print("")
        print("table        records    pages  depth")
        for table in stats.tables {
            print(table.name.padding(toLength: 12, withPad: " ", startingAt: 0)
                  + String(table.records).leftPadded(8) + String(table.pages).leftPadded(9) + String(table.depth).leftPadded(7))
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
