import Foundation
import TollgateLMDB
#if canImport(Glibc)
import Glibc
#endif

/// The tables `dump` can show.
public enum DumpTable: String, Sendable, CaseIterable {
    case meta, tiers, keys, counters, usage, audit
}

/// One decoded record, ready to print: every front end formats dumps the same way through it.
/// Holds no secret and no full hash.
public struct DumpRecord: Sendable {
    public enum Value: Sendable, Hashable {
        case string(String), integer(Int64), unsigned(UInt64), bool(Bool), list([String]), map([String: String]), null
    }

    public var table: DumpTable
    public var fields: [(name: String, value: Value)]

    /// One JSON object on one line, fields in order.
    public var jsonLine: String {
        var line = "{\"table\":\"\(table.rawValue)\""
        for (name, value) in fields { line += ",\(Self.json(name)):\(Self.json(value))" }
        return line + "}"
    }

    /// `name=value` pairs separated by two spaces. Every value a caller could have chosen is
    /// printed bare only when it cannot be misread (see ``textToken(_:)``), else quoted and
    /// escaped: one record is always one line, with each field once.
    public var textLine: String {
        ([table.rawValue] + fields.map { "\($0.name)=\(Self.text($0.value))" }).joined(separator: "  ")
    }

    static func json(_ value: Value) -> String {
        switch value {
        case .string(let string): json(string)
        case .integer(let number): String(number)
        case .unsigned(let number): String(number)
        case .bool(let flag): flag ? "true" : "false"
        case .list(let strings): "[" + strings.map(json).joined(separator: ",") + "]"
        case .map(let entries): "{" + entries.sorted { $0.key < $1.key }.map { json($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        case .null: "null"
        }
    }

    static func json(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func text(_ value: Value) -> String {
        switch value {
        case .string(let string): textToken(string)
        case .list(let strings): strings.map(textToken).joined(separator: ",")
        case .map(let entries): entries.sorted { $0.key < $1.key }.map { textToken($0.key) + "=" + textToken($0.value) }.joined(separator: ",")
        default: json(value)
        }
    }

    /// A string as one token of the table format: bare when it holds nothing but visible
    /// characters other than the format's own separators (space, `,`, `=`) and quote (`"`, `\`);
    /// otherwise in double quotes, with `"` and `\` escaped and every control, format or
    /// separator character (C0, DEL, C1, bidirectional overrides, line separators…) written as
    /// `\uXXXX`, as is a space after a space (two spaces separate fields) — so no value can end
    /// a line, add a field, or reach a terminal as an escape sequence.
    static func textToken(_ string: String) -> String {
        func isBare(_ scalar: Unicode.Scalar) -> Bool {
            if scalar.isASCII { return scalar.value > 0x20 && scalar.value < 0x7F && !" ,=\"\\".unicodeScalars.contains(scalar) }
            return !needsEscape(scalar)
        }
        func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .spaceSeparator, .unassigned, .surrogate, .privateUse: true
            default: false
            }
        }
        if !string.isEmpty, string.unicodeScalars.allSatisfy(isBare) { return string }
        var out = "\""
        var afterSpace = false
        for scalar in string.unicodeScalars {
            defer { afterSpace = scalar == " " }
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case " ": out += afterSpace ? "\\u0020" : " "
            case _ where needsEscape(scalar):
                if scalar.value > 0xFFFF {
                    let offset = scalar.value - 0x10000
                    out += String(format: "\\u%04x\\u%04x", 0xD800 + (offset >> 10), 0xDC00 + (offset & 0x3FF))
                } else {
                    out += String(format: "\\u%04x", scalar.value)
                }
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension DumpRecord {
    /// A key as every front end shows it: never a secret or a hash.
    public init(key: KeyInfo) {
        var fields: [(name: String, value: Value)] = [
            ("id", .string(key.id)), ("display_prefix", .string(key.displayPrefix)), ("owner", .string(key.owner)),
            ("name", .string(key.name)), ("tier", .string(key.tier)), ("scopes", .list(key.scopes)),
            ("state", .string(key.state.description)), ("created_at", .string(key.createdAt.iso8601)),
            ("expires_at", key.expiresAt.map { .string($0.iso8601) } ?? .null),
            ("revoked_at", key.revokedAt.map { .string($0.iso8601) } ?? .null),
            ("credits", key.credits.map { .unsigned($0) } ?? .null),
            ("refill", key.refill.map { .string("\($0.amount)/\($0.period)") } ?? .null),
            ("last_used_at", key.lastUsedAt.map { .string($0.iso8601) } ?? .null),
            ("metadata", .map(key.metadata)),
        ]
        if !key.limitOverrides.isEmpty { fields.append(("limit_overrides", .list(key.limitOverrides.map(\.spec)))) }
        self.init(table: .keys, fields: fields)
    }
}

extension DumpRecord {
    init(meta: StoreMeta) {
        self.init(table: .meta, fields: [
            ("format_version", .unsigned(UInt64(meta.formatVersion))), ("store_id", .string(meta.storeID)),
            ("created_at", .string(meta.createdAt.iso8601)), ("hash_scheme", .string(meta.hashScheme.description)),
            ("key_prefix", .string(meta.keyPrefix)), ("policy_generation", .unsigned(meta.policyGeneration)),
        ])
    }

    /// One stored record of `table` (its raw key and value), decoded as `dump` shows it. Never
    /// trusts its input: a damaged or hostile record throws, it never traps (the `records` fuzz
    /// target's entry point).
    static func decode(table: DumpTable, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, now: Timestamp) throws(RecordDecodingError) -> DumpRecord {
        switch table {
        case .meta:
            return DumpRecord(meta: try StoreMeta.decode(value))
        case .tiers:
            let tier = try Tier.decode(value)
            return DumpRecord(table: .tiers, fields: [("name", .string(tier.name)), ("limits", .list(tier.limits.map(\.spec)))])
        case .keys:
            switch try StoredKey.decode(value) {
            case .primary(let key, _): return DumpRecord(key: key)
            case .rotated(let id, let graceUntil):
                return DumpRecord(table: .keys, fields: [
                    ("id", .string(id)), ("state", .string("rotated-out")), ("grace_until", .string(graceUntil.iso8601)),
                ])
            }
        case .counters:
            let (subject, limit) = try CounterSubject.parse(key)
            let counter = try StoredCounter.decode(value)
            return DumpRecord(table: .counters, fields: [
                ("subject", .string(subject.description)), ("limit", .string(limit)),
            ] + Store.stateFields(counter.state) + [
                ("stale_at", .string(counter.staleAt.iso8601)), ("stale_now", .bool(counter.staleAt <= now)),
            ])
        case .usage:
            guard key.count == KeyID.length + 4 else { throw RecordDecodingError(record: "usage key", reason: "length \(key.count)") }
            let day = Int64(UInt32(bigEndianBytes: key.suffix(4)) ?? 0)
            let usage = try DailyUsage.decode(value, day: day)
            return DumpRecord(table: .usage, fields: [
                ("key_id", .string(String(decoding: key.prefix(KeyID.length), as: UTF8.self))),
                ("day", .string(Timestamp.isoDate(day: day))),
                ("allowed", .unsigned(usage.allowed)), ("denied", .unsigned(usage.denied)), ("consumed", .unsigned(usage.consumed)),
            ])
        case .audit:
            let event = try AuditEvent.decode(value)
            return DumpRecord(table: .audit, fields: [
                ("at", .string(event.at.iso8601)), ("kind", .string(event.kind.description)),
                ("actor", .string(event.actor)), ("subject", .string(event.subject)), ("detail", .string(event.detail)),
            ])
        }
    }
}

/// Something `check` found wrong.
public struct IntegrityFinding: Sendable, Hashable, CustomStringConvertible {
    public var table: String
    public var problem: String
    public var description: String { "\(table): \(problem)" }

    public init(table: String, problem: String) {
        self.table = table
        self.problem = problem
    }
}

extension Store {
    // MARK: Dump

    /// Calls `visit` with every record of `tables`, decoded, in key order: one read snapshot per
    /// table, constant memory however large the store.
    public func dump(_ tables: [DumpTable] = DumpTable.allCases, at: Timestamp? = nil, _ visit: (DumpRecord) throws -> Void) throws(TollgateError) {
        let now = now(at)
        for table in tables {
            try read("dump \(table.rawValue)") { txn in
                if table == .meta {
                    if let meta = try Self.readMeta(txn, self.tables) { try visit(DumpRecord(meta: meta)) }
                    return
                }
                try txn.forEach(in: self.tables.table(for: table)) { key, value in
                    try visit(try DumpRecord.decode(table: table, key: key, value: value, now: now))
                    return .continue
                }
            }
        }
    }

    /// One stored counter.
    public struct CounterEntry: Sendable, Hashable {
        /// Whose counter, as a decision's ``Decision/LimitStatus/subject`` shows it: `key:…`,
        /// `owner:…`, `ip:…` (any caller-supplied subject), `global`.
        public var subject: String
        public var limit: String
        public var state: CounterState
    }

    /// Every counter, in key order, from one read snapshot. Holds them all in memory: for tests
    /// and small stores (`dump` streams instead).
    public func counters() throws(TollgateError) -> [CounterEntry] {
        try read("read counters") { txn in
            var counters: [CounterEntry] = []
            try txn.forEach(in: tables.counters) { key, value in
                let (subject, limit) = try CounterSubject.parse(key)
                counters.append(CounterEntry(subject: subject.description, limit: limit, state: try StoredCounter.decode(value).state))
                return .continue
            }
            return counters
        }
    }

    static func stateFields(_ state: CounterState) -> [(name: String, value: DumpRecord.Value)] {
        switch state {
        case .window(let start, let count):
            [("kind", .string("window")), ("window_start", .string(Timestamp(microseconds: start).iso8601)), ("count", .unsigned(count))]
        case .sliding(let start, let count, let previous):
            [("kind", .string("sliding")), ("window_start", .string(Timestamp(microseconds: start).iso8601)), ("count", .unsigned(count)), ("previous", .unsigned(previous))]
        case .bucket(let tokens, let updated):
            [("kind", .string("token-bucket")), ("scaled_tokens", .string(String(tokens))), ("updated", .string(Timestamp(microseconds: updated).iso8601))]
        case .gcra(let arrival):
            [("kind", .string("gcra")), ("scaled_arrival", .string(String(arrival)))]
        case .log(let entries):
            [("kind", .string("sliding-log")), ("entries", .unsigned(UInt64(entries.count))),
             ("count", .unsigned(entries.reduce(UInt64(0)) { $0.addingReportingOverflow($1.cost).overflow ? .max : $0 + $1.cost })),
             ("newest", entries.last.map { DumpRecord.Value.string(Timestamp(microseconds: $0.at).iso8601) } ?? .null)]
        }
    }

    // MARK: Check

    /// Verifies the store: LMDB's structure (pages, trees, free list; damage is recorded in the
    /// damage marker, which keeps writers off), every record decodes, cross-references hold
    /// (key → tier, keyIDs ↔ keys, the owners index), counters are sane and agree with the usage
    /// ledger, and LMDB's counts agree. Returns what is wrong.
    public func check() throws(TollgateError) -> [IntegrityFinding] {
        // Busy writers can rewrite a snapshot's meta page before the walk reads it: a new
        // snapshot then, and after a few, say so instead of guessing.
        // Each attempt loses only if this thread is descheduled between beginning its snapshot
        // and reading the meta pages while two commits land: rare, but 8 attempts were seen to
        // lose together on a loaded 2-core machine, so try longer and yield in between.
        for _ in 0..<200 {
            if let findings = try checkOnce() { return findings }
            sched_yield()
        }
        return [IntegrityFinding(table: "structure", problem: "not checked: writers rewrote every snapshot's meta page before it could be read; try again")]
    }

    private func checkOnce() throws(TollgateError) -> [IntegrityFinding]? {
        try read("check the store") { txn -> [IntegrityFinding]? in
            guard var findings = checkStructure(txn) else { return nil }
            func finding(_ table: String, _ problem: String) { findings.append(IntegrityFinding(table: table, problem: problem)) }
            // Damaged trees may hold pointers LMDB would follow out of the map: stop here.
            if !findings.isEmpty { return findings }

            if try Self.readMeta(txn, tables) == nil { finding("meta", "no meta record") }
            var tierNames = Set<String>()
            try txn.forEach(in: tables.tiers) { key, value in
                do {
                    let tier = try Tier.decode(value)
                    if Array(key) != Array(tier.name.utf8) { finding("tiers", "record under \(String(decoding: key, as: UTF8.self)) names tier \(tier.name)") }
                    tierNames.insert(tier.name)
                } catch { finding("tiers", "undecodable record: \(error)") }
                return .continue
            }
            var primaryByID: [String: (hash: [UInt8], owner: String)] = [:]
            var rotatedIDs: [String] = []
            try txn.forEach(in: tables.keys) { hash, value in
                guard hash.count == 32 else {
                    finding("keys", "a key of \(hash.count) bytes (hashes have 32)")
                    return .continue
                }
                do {
                    switch try StoredKey.decode(value) {
                    case .primary(let key, _):
                        if primaryByID.updateValue((Array(hash), key.owner), forKey: key.id) != nil { finding("keys", "two records for key \(key.id)") }
                        if !tierNames.contains(key.tier) { finding("keys", "key \(key.id) is on tier \(key.tier), which does not exist") }
                        if !KeyID.isValid(key.id) { finding("keys", "malformed key id") }
                    case .rotated(let id, _): rotatedIDs.append(id)
                    }
                } catch { finding("keys", "undecodable record: \(error)") }
                return .continue
            }
            for id in rotatedIDs where primaryByID[id] == nil { finding("keys", "rotated-out secret of \(id) points to no key") }
            var indexedIDs = 0
            try txn.forEach(in: tables.keyIDs) { id, hash in
                indexedIDs += 1
                let idText = String(decoding: id, as: UTF8.self)
                if primaryByID[idText]?.hash != Array(hash) { finding("keyIDs", "\(idText) does not point to its key record") }
                return .continue
            }
            if indexedIDs != primaryByID.count { finding("keyIDs", "\(indexedIDs) ids for \(primaryByID.count) keys") }
            var ownerEntries = 0
            try txn.forEach(in: tables.owners) { entry, _ in
                ownerEntries += 1
                guard let separator = entry.firstIndex(of: 0) else {
                    finding("owners", "an entry without separator")
                    return .continue
                }
                let owner = String(decoding: entry[..<separator], as: UTF8.self)
                let id = String(decoding: entry[(separator + 1)...], as: UTF8.self)
                if primaryByID[id]?.owner != owner { finding("owners", "\(owner)/\(id) indexes no key of that owner") }
                return .continue
            }
            if ownerEntries != primaryByID.count { finding("owners", "\(ownerEntries) index entries for \(primaryByID.count) keys") }
            try txn.forEach(in: tables.counters) { key, value in
                do {
                    _ = try CounterSubject.parse(key)
                    switch try StoredCounter.decode(value).state {
                    case .bucket(let tokens, _) where tokens < 0: finding("counters", "a token bucket below zero")
                    case .gcra(let arrival) where arrival < 0: finding("counters", "a GCRA arrival time before 1970")
                    default: break
                    }
                } catch { finding("counters", "undecodable record: \(error)") }
                return .continue
            }
            try txn.forEach(in: tables.usage) { key, value in
                do {
                    guard key.count == KeyID.length + 4 else { throw RecordDecodingError(record: "usage key", reason: "length \(key.count)") }
                    _ = try DailyUsage.decode(value, day: 0)
                } catch { finding("usage", "undecodable record: \(error)") }
                return .continue
            }
            try txn.forEach(in: tables.audit) { key, value in
                do {
                    guard key.count == 18 else { throw RecordDecodingError(record: "audit key", reason: "length \(key.count)") }
                    _ = try AuditEvent.decode(value)
                } catch { finding("audit", "undecodable record: \(error)") }
                return .continue
            }
            for disagreement in try counterLedgerDisagreements(txn) { finding("counters", disagreement.description) }
            return findings
        }
    }

    // MARK: Backup and restore

    /// A consistent copy of the store into the new directory `path`, taken from a read snapshot
    /// while writers go on (`mdb_env_copyfd2`). `compact` leaves free pages out. The data file is
    /// created 0600 before the first byte is copied into it (never readable by others, not even
    /// mid-copy), in a directory created 0700.
    public func backup(to path: String, compact: Bool = false) throws(TollgateError) {
        if FileManager.default.fileExists(atPath: path + "/data.mdb") {
            throw TollgateError(.alreadyExists, "\(path) already holds a store")
        }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw TollgateError(.storage, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        try Self.storageCall("back up to \(path)") { try environment.copy(to: path, compact: compact) }
    }

    /// Throws unless the LMDB data file at `path` is as long as its newest meta page says.
    static func checkBackupIsComplete(_ path: String) throws(TollgateError) {
        let incomplete = "\(path) is an incomplete backup"
        switch DataFileCompleteness.of(dataFile: path) {
        case .complete: return
        case .unreadable(let reason): throw TollgateError(.storage, reason)
        case .noValidFirstMetaPage(let fileSize): throw TollgateError(.corruptRecord, "\(incomplete) (\(fileSize) bytes, no valid first meta page)")
        case .noValidMetaPage(let fileSize): throw TollgateError(.corruptRecord, "\(incomplete) (\(fileSize) bytes, no valid meta page)")
        case .short(let fileSize, let needed): throw TollgateError(.corruptRecord, "\(incomplete): \(fileSize) bytes, its meta page needs \(needed)")
        }
    }

    /// Replaces the store at `target` with the backup at `backup`, after checking the backup.
    /// Refuses to overwrite an existing store unless `force`, and refuses — even with `force` —
    /// a target that exists and is anything but a missing path, an empty directory or a Tollgate
    /// store (``RestoreTarget``): a mistyped path must never cost a directory its contents. The
    /// swap is a rename: a crash leaves either the old store or the new one, never a mix. Only
    /// store files are ever removed, one by one, never a directory tree. Stop servers using
    /// `target` first.
    public static func restore(backup: String, to target: String, force: Bool = false, pepper: Pepper? = nil) throws(TollgateError) -> [IntegrityFinding] {
        let existing = try RestoreTarget.classify(target)
        if existing == .store && !force { throw TollgateError(.alreadyExists, "\(target) holds a store; pass force to replace it") }
        // A fresh name of our own: a directory already at `target.restoring-…` is someone else's.
        var template = Array((target + ".restoring-XXXXXX").utf8CString)
        let created: String? = template.withUnsafeMutableBufferPointer { buffer in
            mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
        }
        guard let staging = created else {
            throw TollgateError(.storage, "cannot create a staging directory beside \(target): \(String(cString: strerror(errno)))")
        }
        do {
            // Copy the backup's data file (not its lock file) into the staging directory, check it there.
            let source = backup + "/data.mdb"
            guard FileManager.default.fileExists(atPath: source) else { throw TollgateError(.notFound, "no backup at \(backup)") }
            // A backup cut short (its writer died mid-copy) has valid meta pages but misses data
            // pages: opening it would map pages past the end of the file (SIGBUS). Refuse it.
            try Self.checkBackupIsComplete(source)
            try FileManager.default.copyItem(atPath: source, toPath: staging + "/data.mdb")
            chmod(staging + "/data.mdb", 0o600)
            var options = Options(path: staging)
            options.create = false
            options.pepper = pepper
            options.sweepInterval = nil
            let restored = try Store(options: options)
            let findings = try restored.check()
            restored.close()
            guard findings.isEmpty else {
                throw TollgateError(.corruptRecord, "the backup fails its check: " + findings.prefix(3).map(\.description).joined(separator: "; "))
            }
            unlink(staging + "/lock.mdb")
            switch existing {
            case .store:
                let old = target + ".replaced-\(getpid())"
                guard rename(target, old) == 0 else { throw TollgateError(.storage, "cannot move \(target) aside") }
                guard rename(staging, target) == 0 else {
                    _ = rename(old, target)
                    throw TollgateError(.storage, "cannot move the restored store into place")
                }
                RestoreTarget.removeStore(old)
            case .emptyDirectory:
                // rmdir, not a recursive removal: it fails if anything appeared meanwhile.
                guard rmdir(target) == 0 else { throw TollgateError(.storage, "\(target) is no longer empty") }
                guard rename(staging, target) == 0 else { throw TollgateError(.storage, "cannot move the restored store into place") }
            case .missing:
                guard rename(staging, target) == 0 else { throw TollgateError(.storage, "cannot move the restored store into place") }
            }
            return findings
        } catch {
            RestoreTarget.removeStore(staging)
            throw Self.mapError(error, "restore")
        }
    }
}
