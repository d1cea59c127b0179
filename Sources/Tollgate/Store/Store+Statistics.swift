import Foundation
import TollgateLMDB

/// What `tollgate stats` prints: the store's size, use and settings.
public struct StoreStatistics: Sendable, Hashable {
    public struct TableStatistics: Sendable, Hashable {
        public var name: String
        public var records: Int
        public var pages: Int
        public var depth: Int
    }

    public var path: String
    public var formatVersion: UInt32
    public var storeID: String
    public var createdAt: Timestamp
    public var hashScheme: KeyHashScheme
    public var keyPrefix: String
    public var durability: String
    public var tables: [TableStatistics]
    /// Bytes of `data.mdb` on disk.
    public var fileBytes: Int
    public var mapBytes: Int
    /// Bytes of the map in use (last page + 1) × page size.
    public var usedBytes: Int
    public var pageSize: Int
    public var readerSlots: Int
    public var readersInUse: Int
    public var lmdbVersion: String
}

extension Store {
    /// Counts, sizes and settings, from one read snapshot.
    public func statistics() throws(TollgateError) -> StoreStatistics {
        let perTable = try read("read statistics") { txn in
            try tables.all.map { table in
                let stat = try txn.statistics(of: table)
                return StoreStatistics.TableStatistics(name: table.name, records: stat.entries, pages: stat.pages, depth: stat.depth)
            }
        }
        let info = environment.info()
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: options.path + "/data.mdb")[.size] as? Int) ?? 0
        let durability: String
        switch options.durability {
        case .durable: durability = "durable"
        case .periodic(let interval): durability = "periodic (\(interval))"
        }
        return StoreStatistics(
            path: options.path, formatVersion: meta.formatVersion, storeID: meta.storeID, createdAt: meta.createdAt,
            hashScheme: meta.hashScheme, keyPrefix: meta.keyPrefix, durability: durability, tables: perTable,
            fileBytes: fileBytes, mapBytes: info.mapSize, usedBytes: info.usedBytes, pageSize: info.pageSize,
            readerSlots: info.maxReaders, readersInUse: info.readersInUse, lmdbVersion: Environment.libraryVersion)
    }
}
