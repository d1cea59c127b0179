import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a restore's target path holds, judged before anything is touched: `restore` replaces
/// only a store, and never a directory that holds anything else (a mistyped `TOLLGATE_STORE`
/// pointing at a home directory must not cost it its contents, with `force` or without).
enum RestoreTarget: Equatable {
    case missing, emptyDirectory, store

    /// The only files a store directory holds; nothing else is ever removed by `restore`.
    /// The structural-damage marker counts: a damaged store is what one restores over.
    static let storeFiles: Set<String> = ["data.mdb", "lock.mdb", Store.damageMarkerName]

    /// Throws unless `path` is missing, an empty directory, or a store: a directory holding
    /// only ``storeFiles``, whose `data.mdb` is a regular file that is empty (never synced) or
    /// starts as an LMDB data file does. A damaged store still counts, so it can be restored over.
    static func classify(_ path: String) throws(TollgateError) -> RestoreTarget {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return .missing }
            throw TollgateError(.storage, "cannot inspect \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw TollgateError(.invalidArgument, "\(path) exists and is not a directory (a file or a symbolic link); restore replaces only a store")
        }
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw TollgateError(.storage, "cannot list \(path): \(error.localizedDescription)")
        }
        if entries.isEmpty { return .emptyDirectory }
        let foreign = entries.filter { !storeFiles.contains($0) }.sorted()
        guard foreign.isEmpty, entries.contains("data.mdb"), isLMDBDataFile(path + "/data.mdb") else {
            let example = foreign.first.map { " (such as \($0))" } ?? ""
            throw TollgateError(.alreadyExists, "\(path) is not empty and holds no Tollgate store\(example); restore never replaces it, even with force")
        }
        return .store
    }

    /// A regular file (not a link) that is empty or carries LMDB's magic in its first meta page.
    private static func isLMDBDataFile(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return false }
        if status.st_size == 0 { return true }
        var magic: UInt32 = 0
        let read = withUnsafeMutableBytes(of: &magic) { pread(descriptor, $0.baseAddress, 4, 16) }
        return read == 4 && magic == 0xBEEF_C0DE
    }

    /// Removes a store directory made or checked by `restore`: its store files one by one, then
    /// the directory itself, which fails (and is left) if it holds anything else.
    static func removeStore(_ path: String) {
        for file in storeFiles { unlink(path + "/" + file) }
        rmdir(path)
    }
}
