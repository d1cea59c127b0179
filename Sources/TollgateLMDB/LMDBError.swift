internal import CTollgateLMDB

#if canImport(Glibc)
import Glibc
#endif

/// An error from LMDB or from the operating system underneath it.
///
/// An extensible struct over the raw code rather than a closed enum, so a code this layer does not
/// name still arrives intact. Match named codes with `catch LMDBError.mapFull` or `case .notFound`.
public struct LMDBError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw code: an LMDB code (`MDB_*`, negative) or an `errno` value (positive).
    public var code: Int32
    /// Extra words from this layer (which operation, which path). Never holds stored bytes.
    public var context: String?

    public init(code: Int32, context: String? = nil) {
        self.code = code
        self.context = context
    }

    /// LMDB's own text for the code (`mdb_strerror`), which covers `errno` values too.
    public var message: String { String(cString: mdb_strerror(code)) }

    public var description: String {
        if let context { return "\(context): \(message) (\(code))" }
        return "\(message) (\(code))"
    }

    /// Errors are equal when their codes are: the context is commentary.
    public static func == (lhs: LMDBError, rhs: LMDBError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// Lets `catch LMDBError.mapFull` and `case LMDBError.notFound` match any error value.
    public static func ~= (pattern: LMDBError, value: any Error) -> Bool {
        (value as? LMDBError)?.code == pattern.code
    }

    // MARK: LMDB's codes

    /// `MDB_KEYEXIST`: key/data pair already exists (a put with no-overwrite).
    public static let keyExists = LMDBError(code: MDB_KEYEXIST)
    /// `MDB_NOTFOUND`: key/data pair not found (this layer answers absence with `nil` instead).
    public static let notFound = LMDBError(code: MDB_NOTFOUND)
    /// `MDB_PAGE_NOTFOUND`: requested page not found — usually a corrupted file.
    public static let pageNotFound = LMDBError(code: MDB_PAGE_NOTFOUND)
    /// `MDB_CORRUPTED`: located page was the wrong type.
    public static let corrupted = LMDBError(code: MDB_CORRUPTED)
    /// `MDB_PANIC`: update of meta page failed or environment had a fatal error.
    public static let panic = LMDBError(code: MDB_PANIC)
    /// `MDB_VERSION_MISMATCH`: environment version mismatch.
    public static let versionMismatch = LMDBError(code: MDB_VERSION_MISMATCH)
    /// `MDB_INVALID`: file is not a valid LMDB file.
    public static let invalid = LMDBError(code: MDB_INVALID)
    /// `MDB_MAP_FULL`: environment map size reached (this layer grows the map and retries).
    public static let mapFull = LMDBError(code: MDB_MAP_FULL)
    /// `MDB_DBS_FULL`: environment `maxTables` reached.
    public static let tablesFull = LMDBError(code: MDB_DBS_FULL)
    /// `MDB_READERS_FULL`: environment `maxReaders` reached.
    public static let readersFull = LMDBError(code: MDB_READERS_FULL)
    /// `MDB_TLS_FULL`: too many TLS keys in use.
    public static let tlsFull = LMDBError(code: MDB_TLS_FULL)
    /// `MDB_TXN_FULL`: transaction has too many dirty pages.
    public static let transactionFull = LMDBError(code: MDB_TXN_FULL)
    /// `MDB_CURSOR_FULL`: cursor stack too deep.
    public static let cursorFull = LMDBError(code: MDB_CURSOR_FULL)
    /// `MDB_PAGE_FULL`: page has not enough space.
    public static let pageFull = LMDBError(code: MDB_PAGE_FULL)
    /// `MDB_MAP_RESIZED`: another process grew the map beyond this one's (adopted transparently).
    public static let mapResized = LMDBError(code: MDB_MAP_RESIZED)
    /// `MDB_INCOMPATIBLE`: operation and table incompatible, or the table's flags changed.
    public static let incompatible = LMDBError(code: MDB_INCOMPATIBLE)
    /// `MDB_BAD_RSLOT`: invalid reuse of a reader lock table slot.
    public static let badReaderSlot = LMDBError(code: MDB_BAD_RSLOT)
    /// `MDB_BAD_TXN`: transaction must abort, has a child, or is invalid.
    public static let badTransaction = LMDBError(code: MDB_BAD_TXN)
    /// `MDB_BAD_VALSIZE`: unsupported size of key, table name or value (keys: 1–511 bytes).
    public static let badValueSize = LMDBError(code: MDB_BAD_VALSIZE)
    /// `MDB_BAD_DBI`: the table handle was changed unexpectedly.
    public static let badTable = LMDBError(code: MDB_BAD_DBI)

    // MARK: errno values LMDB passes through

    /// `EPERM`: operation not permitted.
    public static let notPermitted = LMDBError(code: EPERM)
    /// `ENOENT`: no such file or directory.
    public static let noSuchFile = LMDBError(code: ENOENT)
    /// `EIO`: input/output error.
    public static let ioError = LMDBError(code: EIO)
    /// `ENOMEM`: out of memory.
    public static let outOfMemory = LMDBError(code: ENOMEM)
    /// `EACCES`: permission denied (also: a write on a read-only environment).
    public static let permissionDenied = LMDBError(code: EACCES)
    /// `EBUSY`: resource busy (this layer: the store is already open in this process).
    public static let busy = LMDBError(code: EBUSY)
    /// `EEXIST`: file exists.
    public static let fileExists = LMDBError(code: EEXIST)
    /// `ENOTDIR`: not a directory.
    public static let notDirectory = LMDBError(code: ENOTDIR)
    /// `EINVAL`: invalid argument (this layer: also "environment is closed").
    public static let invalidArgument = LMDBError(code: EINVAL)
    /// `ENOSPC`: no space left on device.
    public static let noSpace = LMDBError(code: ENOSPC)
    /// `EROFS`: read-only file system.
    public static let readOnlyFileSystem = LMDBError(code: EROFS)
    /// `EAGAIN`: resource temporarily unavailable (a lock is held).
    public static let tryAgain = LMDBError(code: EAGAIN)
}

/// Turns an LMDB return code into a thrown error.
@inline(__always)
func check(_ code: Int32, _ context: @autoclosure () -> String) throws(LMDBError) {
    if code != MDB_SUCCESS { throw LMDBError(code: code, context: context()) }
}
