#if canImport(Glibc)
import Glibc
#endif

/// A structural check of an LMDB data file, in the manner of bbolt's `check`: both meta pages
/// sane, every page from 2 to the last one reachable from exactly one tree or listed once in the
/// free list, nothing referenced beyond the last page.
///
/// LMDB itself trusts the file: a free list that names a page still in a tree (a meta page torn
/// so that its transaction id persisted and its free-list root did not) is only noticed when a
/// writer reuses the page, as an assertion that aborts the process. This walk reads the file
/// with `pread`, never through the map, and bounds-checks every number it finds on disk, so a
/// damaged file yields findings, never a trap or a `SIGBUS`.
///
/// The layout read is LMDB's (lmdb.h, mdb.c; 64-bit): a 16-byte page header (page number,
/// pad, flags, lower and upper bounds — the overflow page count in their place), then, on meta
/// pages, magic, version, address, map size, the free and main databases' 48-byte records (the
/// free one's pad holds the page size), the last page number and the transaction id.
public enum PageWalk {
    /// What the walk saw, besides its findings.
    public struct Summary: Sendable, Hashable {
        public var pageSize = 0
        /// The transaction whose meta page was walked.
        public var transactionID: UInt64 = 0
        public var lastPage: UInt64 = 0
        /// Pages in trees (free-list tree included), and pages the free list lists.
        public var treePages = 0
        public var freePages = 0
    }

    /// The result: an empty `findings` means the structure is sound.
    public struct Report: Sendable, Hashable {
        public var findings: [String] = []
        public var summary = Summary()
        /// With a snapshot only: its meta page was being rewritten while it was read (or is gone),
        /// so nothing was walked. Walk again on a fresh snapshot.
        public var unstable = false
    }

    /// Walks the data file at `path`. `snapshot`: walk the meta page of that transaction (the
    /// caller holds a read transaction on it, so its pages cannot be reused meanwhile); `nil`:
    /// the meta page LMDB would pick (the higher transaction id), for a store nobody writes.
    public static func check(dataFile path: String, snapshot: UInt64? = nil) -> Report {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return Report(findings: ["cannot open the data file: \(String(cString: strerror(errno)))"]) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return Report(findings: ["cannot stat the data file"]) }
        var walker = Walker(file: DataFile(descriptor: descriptor, size: UInt64(max(0, status.st_size))))
        walker.run(snapshot: snapshot)
        walker.summarizeElided()
        return Report(findings: walker.findings, summary: walker.summary, unstable: walker.unstable)
    }
}

private struct Walker {
    let file: DataFile
    var findings: [String] = []
    var summary = PageWalk.Summary()
    var unstable = false
    /// Per page: 0 unclaimed, else 1 + the index in `owners` of what claimed it.
    private var claims: [UInt32] = []
    private var owners: [String] = []
    private var pageSize = 0
    private var lastPage: UInt64 = 0

    // mdb.c's page and node flags.
    static let branchPage: UInt16 = 0x01, leafPage: UInt16 = 0x02, overflowPage: UInt16 = 0x04, metaPage: UInt16 = 0x08
    static let leaf2Page: UInt16 = 0x20
    static let bigData: UInt16 = 0x01, subData: UInt16 = 0x02
    static let headerSize = 16, nodeHeaderSize = 8
    /// LMDB's cursor stack depth: no valid tree is deeper.
    static let maxDepth = 32
    /// Findings of one kind beyond this are summed up, so a wrecked file gives a readable report.
    static let maxFindingsPerKind = 20

    private var findingCounts: [String: Int] = [:]

    init(file: DataFile) { self.file = file }

    mutating func finding(_ kind: String, _ text: String) {
        findingCounts[kind, default: 0] += 1
        if findingCounts[kind]! <= Self.maxFindingsPerKind { findings.append(text) }
    }

    mutating func summarizeElided() {
        for (kind, count) in findingCounts.sorted(by: { $0.key < $1.key }) where count > Self.maxFindingsPerKind {
            findings.append("… and \(count - Self.maxFindingsPerKind) more like the above (\(kind))")
        }
    }

    mutating func run(snapshot: UInt64?) {
        guard file.size > 0 else {
            findings.append("the data file is empty: the store was never synced")
            return
        }
        guard let pageSize = detectPageSize() else {
            findings.append("no meta page with a valid magic number and page size: not an LMDB data file, or both meta pages are damaged")
            return
        }
        self.pageSize = pageSize
        summary.pageSize = pageSize
        // The meta record fits in the first 256 bytes of its page.
        let metaBytes = (0..<2).map { file.bytes(at: UInt64($0 * pageSize), count: 256) }
        let metas = metaBytes.map { $0.flatMap(MetaPage.init) }
        let chosen: Int
        if let snapshot {
            // Commit T+2 rewrites T's meta page in place; if it is doing so now, the caller walks
            // again on a fresh snapshot rather than calling a half-written page damage.
            guard let index = metas.firstIndex(where: { $0?.transactionID == snapshot }),
                  file.bytes(at: UInt64(index * pageSize), count: 256) == metaBytes[index] else {
                unstable = true
                return
            }
            chosen = index
        } else {
            // mdb_env_pick_meta: the higher transaction id, whatever else the page says.
            chosen = (metas[0]?.transactionID ?? 0) < (metas[1]?.transactionID ?? 0) ? 1 : 0
        }
        let problems = (0..<2).map { checkMeta(metas[$0], index: $0) }
        defer {
            // In a live store the other meta page is the next commit's: report it only if it
            // did not change while the trees were walked.
            let other = 1 - chosen
            if !problems[other].isEmpty,
               snapshot == nil || file.bytes(at: UInt64(other * pageSize), count: 256) == metaBytes[other] {
                findings += problems[other]
            }
        }
        findings += problems[chosen]
        guard problems[chosen].isEmpty, let meta = metas[chosen] else {
            findings.append("meta page \(chosen), the one LMDB uses, is damaged: its trees were not walked")
            return
        }
        walk(meta)
    }

    private func detectPageSize() -> Int? {
        // Meta page 0 names the page size; when it is damaged, meta page 1 must name the size at
        // which it sits.
        if let first = file.bytes(at: 0, count: 256).flatMap(MetaPage.init), first.magic == MetaPage.magicNumber,
           MetaPage.plausible(pageSize: first.pageSize) { return Int(first.pageSize) }
        for shift in 9...16 {
            let size = 1 << shift
            if let second = file.bytes(at: UInt64(size), count: 256).flatMap(MetaPage.init), second.magic == MetaPage.magicNumber,
               second.pageSize == UInt32(size) { return size }
        }
        return nil
    }

    /// What is wrong with meta page `index`; nothing when its trees can be walked.
    private func checkMeta(_ meta: MetaPage?, index: Int) -> [String] {
        let name = "meta page \(index)"
        guard let meta else { return ["\(name) is missing: the data file is \(file.size) bytes"] }
        var problems: [String] = []
        if meta.magic != MetaPage.magicNumber { problems.append("bad magic number") }
        if meta.version != MetaPage.dataVersion { problems.append("data version \(meta.version), not \(MetaPage.dataVersion)") }
        if meta.pageNumber != UInt64(index) { problems.append("its header names page \(meta.pageNumber)") }
        if meta.flags & Self.metaPage == 0 { problems.append("its header lacks the meta flag") }
        if meta.pageSize != UInt32(pageSize) { problems.append("page size \(meta.pageSize), not \(pageSize)") }
        let filePages = file.size / UInt64(pageSize)
        if meta.lastPage < 1 || meta.lastPage >= filePages {
            problems.append("last page \(meta.lastPage), but the file holds pages 0 to \(filePages == 0 ? 0 : filePages - 1)")
        }
        for (tree, record) in [("free-list", meta.free), ("main", meta.main)] where record.root != TreeRecord.noRoot {
            if record.root < 2 || record.root > meta.lastPage { problems.append("\(tree) root \(record.root) outside pages 2 to \(meta.lastPage)") }
            if Int(record.depth) > Self.maxDepth { problems.append("\(tree) tree depth \(record.depth)") }
        }
        return problems.isEmpty ? [] : ["\(name) (transaction \(meta.transactionID)): " + problems.joined(separator: "; ")]
    }

    private mutating func walk(_ meta: MetaPage) {
        lastPage = meta.lastPage
        summary.lastPage = lastPage
        summary.transactionID = meta.transactionID
        // checkMeta guaranteed lastPage < the file's page count, so this array is bounded by the file.
        claims = [UInt32](repeating: 0, count: Int(lastPage) + 1)
        claims[0] = UInt32(owner("meta")) + 1
        claims[1] = claims[0]
        // The trees first, then the free list: a page in both is reported as a free page in use.
        walkTree(meta.main, name: "main", isMain: true)
        var freeLists: [(transaction: UInt64, pages: [UInt64])] = []
        for leaf in walkTree(meta.free, name: "free-list", collect: true) {
            // Each record: a transaction id as key, then a count and that many page numbers.
            guard leaf.data.count >= 8, let count = leaf.data.load(0, as: UInt64.self), count <= UInt64(leaf.data.count / 8 - 1) else {
                finding("free-record", "the free list holds a record of \(leaf.data.count) bytes that does not fit its count")
                continue
            }
            freeLists.append((leaf.key.load(0, as: UInt64.self) ?? 0, (0..<Int(count)).compactMap { leaf.data.load(8 + 8 * $0, as: UInt64.self) }))
        }
        let freeOwner = owner("the free list")
        for list in freeLists {
            for page in list.pages {
                guard page >= 2, page <= lastPage else {
                    finding("free-range", "the free list (transaction \(list.transaction)) lists page \(page), outside pages 2 to \(lastPage)")
                    continue
                }
                if claims[Int(page)] != 0 {
                    let holder = owners[Int(claims[Int(page)]) - 1]
                    finding("free-twice", holder == "the free list"
                        ? "page \(page) is listed twice in the free list"
                        : "page \(page) is in the free list and in use by \(holder)")
                    continue
                }
                claims[Int(page)] = UInt32(freeOwner) + 1
                summary.freePages += 1
            }
        }
        let leaked = claims.indices.filter { claims[$0] == 0 }
        if let first = leaked.first {
            findings.append("\(leaked.count) page(s) in no tree and not in the free list (first: page \(first))")
        }
    }

    private mutating func owner(_ name: String) -> Int {
        owners.append(name)
        return owners.count - 1
    }

    /// One leaf entry, kept only for the trees whose values the walk needs (the main tree's
    /// table records, the free list), so memory stays bounded by those, not by the store.
    private typealias Leaf = (key: [UInt8], flags: UInt16, data: [UInt8])

    /// Walks one B+tree, its sub-trees (named tables, duplicate trees) and compares its page
    /// counts with its record. Returns the leaves when `collect`.
    @discardableResult
    private mutating func walkTree(_ record: TreeRecord, name: String, isMain: Bool = false, collect: Bool = false) -> [Leaf] {
        guard record.root != TreeRecord.noRoot else { return [] }
        var counts = (branch: UInt64(0), leaf: UInt64(0), overflow: UInt64(0))
        var leaves: [Leaf] = []
        var subtrees: [(name: String, record: TreeRecord)] = []
        let tag = owner("tree \"\(name)\"")
        walkPage(record.root, tag: tag, tree: name, depth: 1, counts: &counts, collect: collect, leaves: &leaves, subtrees: &subtrees, isMain: isMain)
        if counts != (record.branchPages, record.leafPages, record.overflowPages) {
            findings.append("tree \"\(name)\": \(counts.branch) branch, \(counts.leaf) leaf, \(counts.overflow) overflow pages reachable; its record says \(record.branchPages), \(record.leafPages), \(record.overflowPages)")
        }
        for subtree in subtrees { walkTree(subtree.record, name: subtree.name) }
        return leaves
    }

    /// Claims `page` for `tag`; false (and a finding) when it is out of range or claimed already.
    private mutating func claim(_ page: UInt64, tag: Int, tree: String) -> Bool {
        guard page >= 2, page <= lastPage else {
            finding("range", "tree \"\(tree)\" references page \(page), outside pages 2 to \(lastPage)")
            return false
        }
        if claims[Int(page)] != 0 {
            finding("twice", "page \(page) is referenced twice (by tree \"\(tree)\" and \(owners[Int(claims[Int(page)]) - 1]))")
            return false
        }
        claims[Int(page)] = UInt32(tag) + 1
        summary.treePages += 1
        return true
    }

    private mutating func walkPage(
        _ number: UInt64, tag: Int, tree: String, depth: Int,
        counts: inout (branch: UInt64, leaf: UInt64, overflow: UInt64),
        collect: Bool, leaves: inout [Leaf], subtrees: inout [(name: String, record: TreeRecord)], isMain: Bool
    ) {
        guard depth <= Self.maxDepth else {
            finding("depth", "tree \"\(tree)\" is deeper than \(Self.maxDepth) levels (a cycle?)")
            return
        }
        guard claim(number, tag: tag, tree: tree) else { return }
        guard let page = file.bytes(at: number * UInt64(pageSize), count: pageSize) else {
            finding("read", "page \(number) of tree \"\(tree)\" cannot be read")
            return
        }
        let header = page.load(0, as: UInt64.self)!, flags = page.load(10, as: UInt16.self)!
        guard header == number else {
            finding("header", "page \(number) of tree \"\(tree)\" names itself page \(header)")
            return
        }
        if flags & Self.leaf2Page != 0 {
            counts.leaf += 1
            return
        }
        let isBranch = flags & Self.branchPage != 0
        guard isBranch || flags & Self.leafPage != 0 else {
            finding("flags", "page \(number) of tree \"\(tree)\" is neither a branch nor a leaf (flags 0x\(String(flags, radix: 16)))")
            return
        }
        if isBranch { counts.branch += 1 } else { counts.leaf += 1 }
        let lower = Int(page.load(12, as: UInt16.self)!), upper = Int(page.load(14, as: UInt16.self)!)
        guard lower >= Self.headerSize, lower <= upper, upper <= pageSize, (lower - Self.headerSize) % 2 == 0 else {
            finding("bounds", "page \(number) of tree \"\(tree)\" has bounds \(lower)…\(upper)")
            return
        }
        for slot in 0..<(lower - Self.headerSize) / 2 {
            let offset = Int(page.load(Self.headerSize + 2 * slot, as: UInt16.self)!)
            guard offset >= upper, let low = page.load(offset, as: UInt16.self), let high = page.load(offset + 2, as: UInt16.self),
                  let nodeFlags = page.load(offset + 4, as: UInt16.self), let keySize = page.load(offset + 6, as: UInt16.self),
                  offset + Self.nodeHeaderSize + Int(keySize) <= pageSize else {
                finding("node", "page \(number) of tree \"\(tree)\": node \(slot) lies outside the page")
                continue
            }
            if isBranch {
                // A branch node keeps its child's page number in the size and flag fields.
                let child = UInt64(low) | UInt64(high) << 16 | UInt64(nodeFlags) << 32
                walkPage(child, tag: tag, tree: tree, depth: depth + 1, counts: &counts, collect: collect, leaves: &leaves, subtrees: &subtrees, isMain: isMain)
                continue
            }
            let keyStart = offset + Self.nodeHeaderSize
            let key = Array(page[keyStart..<keyStart + Int(keySize)])
            let dataSize = Int(low) | Int(high) << 16
            let dataStart = keyStart + Int(keySize)
            let data: [UInt8]
            if nodeFlags & Self.bigData != 0 {
                guard let overflow = page.load(dataStart, as: UInt64.self) else {
                    finding("node", "page \(number) of tree \"\(tree)\": node \(slot) lies outside the page")
                    continue
                }
                // Always claimed; read only when the value is needed.
                guard let value = readOverflow(overflow, size: dataSize, tag: tag, tree: tree, counts: &counts, read: collect || nodeFlags & Self.subData != 0) else { continue }
                data = value
            } else {
                guard dataStart + dataSize <= pageSize else {
                    finding("node", "page \(number) of tree \"\(tree)\": node \(slot) lies outside the page")
                    continue
                }
                data = Array(page[dataStart..<dataStart + dataSize])
            }
            if nodeFlags & Self.subData != 0 {
                guard let sub = TreeRecord(data, at: 0) else {
                    finding("node", "tree \"\(tree)\": a sub-database record of \(data.count) bytes")
                    continue
                }
                // Main-tree leaves with F_SUBDATA are the named tables; elsewhere, duplicate sub-trees.
                subtrees.append((isMain ? String(decoding: key, as: UTF8.self) : tree + " (duplicates)", sub))
            } else if collect {
                leaves.append((key, nodeFlags, data))
            }
        }
    }

    /// Claims the overflow run starting at `first` and returns the value it holds.
    private mutating func readOverflow(
        _ first: UInt64, size: Int, tag: Int, tree: String, counts: inout (branch: UInt64, leaf: UInt64, overflow: UInt64), read: Bool
    ) -> [UInt8]? {
        guard claim(first, tag: tag, tree: tree) else { return nil }
        guard let header = file.bytes(at: first * UInt64(pageSize), count: Self.headerSize),
              header.load(0, as: UInt64.self) == first, let flags = header.load(10, as: UInt16.self), flags & Self.overflowPage != 0,
              let pages = header.load(12, as: UInt32.self), pages >= 1 else {
            finding("overflow", "page \(first) of tree \"\(tree)\" is not an overflow page")
            return nil
        }
        let needed = (UInt64(size) + UInt64(Self.headerSize) + UInt64(pageSize) - 1) / UInt64(pageSize)
        guard UInt64(pages) >= needed, first + UInt64(pages) - 1 <= lastPage else {
            finding("overflow", "overflow run at page \(first) of tree \"\(tree)\": \(pages) pages for \(size) bytes (last page \(lastPage))")
            return nil
        }
        for page in (first + 1)..<(first + UInt64(pages)) where !claim(page, tag: tag, tree: tree) { return nil }
        counts.overflow += UInt64(pages)
        guard read else { return [] }
        return file.bytes(at: first * UInt64(pageSize) + UInt64(Self.headerSize), count: size)
    }
}
