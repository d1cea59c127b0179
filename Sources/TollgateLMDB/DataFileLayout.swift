#if canImport(Glibc)
import Glibc
#endif

// LMDB's on-disk layout (lmdb.h, mdb.c; 64-bit), read with `pread` and bounds-checked, never
// through the map: what ``PageWalk`` walks and ``DataFileCompleteness`` measures.

/// Bounds-checked reads of the data file.
struct DataFile {
    let descriptor: Int32
    let size: UInt64

    /// `count` bytes at `offset`, or `nil` when they are not all in the file.
    func bytes(at offset: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0, offset <= size, UInt64(count) <= size - offset else { return nil }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else { return nil }
            done += read
        }
        return buffer
    }
}

/// Little-endian loads that answer `nil` past the end instead of trapping.
extension Array where Element == UInt8 {
    func load<T: FixedWidthInteger>(_ offset: Int, as _: T.Type = T.self) -> T? {
        let width = MemoryLayout<T>.size
        guard offset >= 0, offset <= count - width else { return nil }
        var value: T = 0
        for index in 0..<width { value |= T(self[offset + index]) << (8 * index) }
        return value
    }
}

/// An `MDB_db` record: one B+tree's root and page counts.
struct TreeRecord {
    var flags: UInt16
    var depth: UInt16
    var branchPages: UInt64
    var leafPages: UInt64
    var overflowPages: UInt64
    var root: UInt64

    static let size = 48
    /// `P_INVALID`: the root of an empty tree.
    static let noRoot = UInt64.max

    init?(_ bytes: [UInt8], at offset: Int) {
        guard let flags = bytes.load(offset + 4, as: UInt16.self), let depth = bytes.load(offset + 6, as: UInt16.self),
              let branch = bytes.load(offset + 8, as: UInt64.self), let leaf = bytes.load(offset + 16, as: UInt64.self),
              let overflow = bytes.load(offset + 24, as: UInt64.self), let root = bytes.load(offset + 40, as: UInt64.self)
        else { return nil }
        (self.flags, self.depth, branchPages, leafPages, overflowPages, self.root) = (flags, depth, branch, leaf, overflow, root)
    }
}

/// One meta page, decoded.
struct MetaPage {
    var pageNumber: UInt64
    var flags: UInt16
    var magic: UInt32
    var version: UInt32
    var pageSize: UInt32
    var free: TreeRecord
    var main: TreeRecord
    var lastPage: UInt64
    var transactionID: UInt64

    static let magicNumber: UInt32 = 0xBEEF_C0DE
    static let dataVersion: UInt32 = 1

    static func plausible(pageSize: UInt32) -> Bool {
        pageSize >= 512 && pageSize <= 65_536 && pageSize & (pageSize - 1) == 0
    }

    init?(_ bytes: [UInt8]) {
        guard let pageNumber = bytes.load(0, as: UInt64.self), let flags = bytes.load(10, as: UInt16.self),
              let magic = bytes.load(16, as: UInt32.self), let version = bytes.load(20, as: UInt32.self),
              let pageSize = bytes.load(40, as: UInt32.self),
              let free = TreeRecord(bytes, at: 40), let main = TreeRecord(bytes, at: 40 + TreeRecord.size),
              let lastPage = bytes.load(136, as: UInt64.self), let transactionID = bytes.load(144, as: UInt64.self)
        else { return nil }
        (self.pageNumber, self.flags, self.magic, self.version, self.pageSize) = (pageNumber, flags, magic, version, pageSize)
        (self.free, self.main, self.lastPage, self.transactionID) = (free, main, lastPage, transactionID)
    }
}

/// Whether an LMDB data file is as long as its newest meta page says. A copy killed after
/// writing the meta pages (written first) and before its last data page is shorter; opening it
/// would map pages past the end of the file (`SIGBUS`). Reads the two meta pages only.
public enum DataFileCompleteness: Sendable, Equatable {
    case complete
    /// The file cannot be opened or measured (`reason` says why).
    case unreadable(reason: String)
    /// Meta page 0 has no valid magic number and page size.
    case noValidFirstMetaPage(fileSize: UInt64)
    /// Neither meta page has a valid magic number.
    case noValidMetaPage(fileSize: UInt64)
    /// The newest meta page (the higher transaction id) names a last page past the end.
    case short(fileSize: UInt64, needed: UInt64)

    public static func of(dataFile path: String) -> DataFileCompleteness {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .unreadable(reason: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return .unreadable(reason: "cannot stat \(path)") }
        let file = DataFile(descriptor: descriptor, size: UInt64(max(0, status.st_size)))
        guard let first = file.bytes(at: 0, count: 256).flatMap(MetaPage.init), first.magic == MetaPage.magicNumber,
              MetaPage.plausible(pageSize: first.pageSize) else { return .noValidFirstMetaPage(fileSize: file.size) }
        let pageSize = UInt64(first.pageSize)
        let newest = (0..<2)
            .compactMap { file.bytes(at: $0 * pageSize, count: 256).flatMap(MetaPage.init) }
            .filter { $0.magic == MetaPage.magicNumber }
            .max { $0.transactionID < $1.transactionID }
        guard let newest else { return .noValidMetaPage(fileSize: file.size) }
        let needed = (newest.lastPage &+ 1).multipliedReportingOverflow(by: pageSize)
        guard !needed.overflow, file.size >= needed.partialValue else {
            return .short(fileSize: file.size, needed: needed.overflow ? .max : needed.partialValue)
        }
        return .complete
    }
}
