import Foundation
import Synchronization
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// A real store's data file, damaged on purpose the ways a torn write or a bad disk damages it.
/// The offsets are LMDB's 64-bit layout (see PageWalk.swift).
struct DataFileImage {
    var bytes: [UInt8]
    var pageSize: Int { Int(u32(40)) }

    init(path: String) throws { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    func write(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/data.mdb"))
    }

    func u16(_ offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
    func u32(_ offset: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) } }
    func u64(_ offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) } }
    mutating func set(_ offset: Int, _ value: UInt64) { for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) } }

    /// The meta page LMDB uses (the higher transaction id) and the other one.
    var newestMeta: Int { u64(144) < u64(pageSize + 144) ? 1 : 0 }
    func metaOffset(_ index: Int) -> Int { index * pageSize }
    func freeRoot(meta: Int) -> UInt64 { u64(metaOffset(meta) + 40 + 40) }
    func mainRoot(meta: Int) -> UInt64 { u64(metaOffset(meta) + 88 + 40) }
    func lastPage(meta: Int) -> UInt64 { u64(metaOffset(meta) + 136) }

    /// The leaf nodes of `page` (a leaf): key and the offset of the value in `bytes`.
    func leafNodes(page: UInt64) -> [(key: [UInt8], valueOffset: Int)] {
        let base = Int(page) * pageSize
        let count = (Int(u16(base + 12)) - 16) / 2
        return (0..<count).map { slot in
            let node = base + Int(u16(base + 16 + 2 * slot))
            let keySize = Int(u16(node + 6))
            return (Array(bytes[(node + 8)..<(node + 8 + keySize)]), node + 8 + keySize)
        }
    }

    /// The offset of the root field in the main tree's record of table `name`.
    func tableRootOffset(_ name: String) -> Int? {
        leafNodes(page: mainRoot(meta: newestMeta)).first { $0.key == Array(name.utf8) }.map { $0.valueOffset + 40 }
    }
}

final class DecisionCount: Sendable {
    let count = Mutex(0)
    let stop = Mutex(false)
    let stopped = Mutex(false)
}

@Suite struct PageWalkTests {
    /// A store with several keys, decisions and tier edits (so the free list is not empty), closed.
    static func makeStore() throws -> (directory: String, image: DataFileImage) {
        let fixture = try Fixture()
        for index in 0..<20 {
            let key = try fixture.key(NewKey(owner: "owner-\(index % 3)", tier: "free"))
            _ = try fixture.store.authorize(key: key.secret)
            try fixture.store.setTier(Tier(name: "t\(index % 4)", limits: [.perMinute(UInt64(index + 1))]))
        }
        fixture.store.close()
        let path = fixture.temporary.directory + "/store"
        return (fixture.temporary.directory, try DataFileImage(path: path + "/data.mdb"))
    }

    func damaged(_ image: DataFileImage, in directory: String, _ name: String, _ damage: (inout DataFileImage) throws -> Void) throws -> (path: String, findings: [String]) {
        var copy = image
        try damage(&copy)
        let path = directory + "/" + name
        try copy.write(to: path)
        return (path, PageWalk.check(dataFile: path + "/data.mdb").findings)
    }

    @Test func aSoundStoreHasNoFindings() throws {
        let (directory, image) = try Self.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let report = PageWalk.check(dataFile: directory + "/store/data.mdb")
        #expect(report.findings.isEmpty, "\(report.findings)")
        #expect(report.summary.pageSize == image.pageSize)
        #expect(report.summary.freePages > 0, "the fixture must exercise the free list")
        #expect(UInt64(report.summary.treePages + report.summary.freePages + 2) == report.summary.lastPage + 1, "every page accounted for")
    }

    @Test func aLiveStoreChecksCleanWhileItIsWritten() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        for _ in 0..<50 { _ = try await fixture.store.authorize(key: key.secret) }
        #expect(try fixture.store.check().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: fixture.store.options.path + "/" + Store.damageMarkerName))
    }

    /// Writers commit (and rewrite meta pages) all through the walk: nothing is found, no marker.
    @Test func checkDuringBusyWritersFindsNothing() async throws {
        let fixture = try Fixture { $0.durability = .periodic(interval: .seconds(3_600)) }
        defer { fixture.remove() }
        try fixture.store.setTier(Tier(name: "big", limits: [.perDay(1_000_000)]))
        let keys = try (0..<16).map { _ in try fixture.key(NewKey(owner: "acme", tier: "big")).secret }
        let store = fixture.store
        let made = DecisionCount()
        // A thread of its own, so the writes go on however busy the test runner's pool is.
        let writer = Thread {
            while !made.stop.withLock({ $0 }) {
                let index = made.count.withLock { count in
                    defer { count += 1 }
                    return count
                }
                _ = try? store.authorize(key: keys[index % keys.count])
            }
            made.stopped.withLock { $0 = true }
        }
        writer.start()
        var checks = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while (checks < 30 || made.count.withLock({ $0 }) < 3_000) && ContinuousClock.now < deadline {
            let findings = try store.check()
            #expect(findings.isEmpty, "\(findings)")
            checks += 1
        }
        made.stop.withLock { $0 = true }
        while !made.stopped.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(made.count.withLock { $0 } >= 3_000, "the writers must have committed during the checks")
        #expect(!FileManager.default.fileExists(atPath: store.options.path + "/" + Store.damageMarkerName))
    }

    /// The torn meta write of issue 12 item 20: the newest meta page with the older one's
    /// free-list root. The old free list names pages the newer trees use; LMDB would abort in
    /// `mdb_page_touch` once a writer reused one. `check` must say so first.
    @Test func aFreeListThatNamesPagesInUseIsFound() throws {
        let (directory, image) = try Self.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let inUse = image.mainRoot(meta: image.newestMeta)
        let result = try damaged(image, in: directory, "free-in-use") { copy in
            let freeRoot = copy.freeRoot(meta: copy.newestMeta)
            try #require(freeRoot != UInt64.max)
            let record = try #require(copy.leafNodes(page: freeRoot).first)
            copy.set(record.valueOffset + 8, inUse) // the record's first page number
        }
        #expect(result.findings.contains { $0.contains("page \(inUse) is in the free list and in use by tree \"main\"") }, "\(result.findings)")

        // And through the store, which reads every record without noticing anything else.
        var options = Store.Options(path: result.path)
        options.readOnly = true
        options.create = false
        let store = try Store(options: options)
        let findings = try store.check()
        store.close()
        #expect(findings.contains { $0.table == "structure" && $0.problem.contains("in the free list and in use") }, "\(findings)")
    }

    @Test func aTornMetaPageWithTheOlderFreeListRootIsFound() throws {
        let (directory, image) = try Self.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let newest = image.newestMeta
        try #require(image.freeRoot(meta: 1 - newest) != image.freeRoot(meta: newest))
        let result = try damaged(image, in: directory, "torn-meta") { copy in
            copy.set(copy.metaOffset(newest) + 40 + 40, copy.freeRoot(meta: 1 - newest))
            // The older free tree's page counts too, as a torn tail would carry them.
            for field in [8, 16, 24, 32] { copy.set(copy.metaOffset(newest) + 40 + field, copy.u64(copy.metaOffset(1 - newest) + 40 + field)) }
        }
        #expect(!result.findings.isEmpty)
    }

    @Test func aFreeListEntryListedTwiceOrOutOfRangeIsFound() throws {
        let (directory, image) = try Self.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let last = image.lastPage(meta: image.newestMeta)
        let twice = try damaged(image, in: directory, "free-twice") { copy in
            let record = try #require(copy.leafNodes(page: copy.freeRoot(meta: copy.newestMeta)).first { copy.u64($0.valueOffset) >= 2 })
            copy.set(record.valueOffset + 16, copy.u64(record.valueOffset + 8))
        }
        #expect(twice.findings.contains { $0.contains("is listed twice in the free list") }, "\(twice.findings)")
        let beyond = try damaged(image, in: directory, "free-beyond") { copy in
            let record = try #require(copy.leafNodes(page: copy.freeRoot(meta: copy.newestMeta)).first)
            copy.set(record.valueOffset + 8, last + 10)
        }
        #expect(beyond.findings.contains { $0.contains("lists page \(last + 10), outside pages 2 to \(last)") }, "\(beyond.findings)")
    }

    @Test func aPageReferencedByTwoTreesIsFound() throws {
        let (directory, image) = try Self.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try damaged(image, in: directory, "twice") { copy in
            let keysRoot = copy.u64(try #require(copy.tableRootOffset("keys")))
            copy.set(try #require(copy.tableRootOffset("usage")), keysRoot)
        }
        #expect(result.findings.contains { $0.contains("is referenced twice") }, "\(result.findings)")
        #expect(result.findings.contains { $0.contains("in no tree and not in the free list") }, "the old usage root is leaked: \(result.findings)")
    }

    @Test func aPageBeyondTheLastIsFound() throws {
        let (directory, image) = try Self.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let last = image.lastPage(meta: image.newestMeta)
        let result = try damaged(image, in: directory, "beyond") { copy in
            copy.set(try #require(copy.tableRootOffset("counters")), last + 3)
        }
        #expect(result.findings.contains { $0.contains("tree \"counters\" references page \(last + 3), outside pages 2 to \(last)") }, "\(result.findings)")
    }

    @Test func badMetaPagesAreFound() throws {
        let (directory, image) = try Self.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let newest = image.newestMeta
        let older = try damaged(image, in: directory, "bad-older-magic") { copy in copy.set(copy.metaOffset(1 - newest) + 16, 0) }
        #expect(older.findings.contains { $0.hasPrefix("meta page \(1 - newest)") && $0.contains("bad magic number") }, "\(older.findings)")
        let root = try damaged(image, in: directory, "bad-newest-root") { copy in copy.set(copy.metaOffset(newest) + 88 + 40, 1) }
        #expect(root.findings.contains { $0.contains("main root 1 outside pages") }, "\(root.findings)")
        #expect(root.findings.contains { $0.contains("the one LMDB uses, is damaged") }, "\(root.findings)")
        let last = try damaged(image, in: directory, "bad-last-page") { copy in copy.set(copy.metaOffset(newest) + 136, 1 << 40) }
        #expect(last.findings.contains { $0.contains("last page \(1 << 40), but the file holds") }, "\(last.findings)")
    }

    /// Whatever the bytes, the walk answers with findings: every truncation of a real file, and
    /// every page of it overwritten with noise.
    @Test func arbitraryDamageNeverTraps() throws {
        let (directory, image) = try Self.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let empty = try damaged(image, in: directory, "empty") { $0.bytes = [] }
        #expect(empty.findings == ["the data file is empty: the store was never synced"])
        let pageSize = image.pageSize
        for length in stride(from: 1, to: image.bytes.count, by: pageSize / 2) {
            let cut = try damaged(image, in: directory, "cut") { $0.bytes.removeSubrange(length...) }
            #expect(!cut.findings.isEmpty, "cut at \(length)")
        }
        var generator = SplitMix64(seed: 0x9A6E)
        for page in 0..<(image.bytes.count / pageSize) {
            let noisy = try damaged(image, in: directory, "noise") { copy in
                for offset in (page * pageSize)..<((page + 1) * pageSize) { copy.bytes[offset] = UInt8.random(in: 0...255, using: &generator) }
            }
            _ = noisy // any answer is fine; not trapping is the point
        }
    }

    /// A store that cannot be opened is still checked, and the damage keeps writers off until a
    /// check finds the store sound and the marker is cleared.
    @Test func damageIsRecordedAndRefusesWritersUntilCleared() throws {
        let (directory, image) = try Self.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/store"
        var broken = image
        broken.set(broken.tableRootOffset("keys")!, broken.lastPage(meta: broken.newestMeta) + 3)
        try broken.write(to: path)
        let findings = try Store.checkStructure(path: path)
        #expect(findings.contains { $0.table == "structure" && $0.problem.contains("outside pages") })
        #expect(FileManager.default.fileExists(atPath: path + "/" + Store.damageMarkerName))

        var options = Store.Options(path: path)
        options.create = false
        let refused = #expect(throws: TollgateError.self) { _ = try Store(options: options) }
        #expect(refused?.code == .structuralDamage, "\(String(describing: refused))")
        #expect((#expect(throws: TollgateError.self) { try Store.clearStructuralDamage(path: path) })?.code == .structuralDamage)
        #expect(FileManager.default.fileExists(atPath: path + "/" + Store.damageMarkerName), "damage remains: the marker stays")

        try image.write(to: path) // repaired (here: the sound file back)
        #expect(try Store.checkStructure(path: path).isEmpty)
        #expect((#expect(throws: TollgateError.self) { _ = try Store(options: options) })?.code == .structuralDamage)
        try Store.clearStructuralDamage(path: path)
        let reopened = try Store(options: options)
        reopened.close()
        #expect((#expect(throws: TollgateError.self) { _ = try Store.checkStructure(path: directory + "/nothing-here") })?.code == .notFound)
    }
}
