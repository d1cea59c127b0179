import Foundation
import TollgateLMDB

/// LMDB's own structure (pages, trees, free list), checked by ``PageWalk``, and the damage
/// marker that keeps writers off a store whose structure is known to be damaged: LMDB aborts
/// the process when a writer reuses a page the free list wrongly calls free, so without the
/// marker every server of a fleet would crash-loop on the store.
extension Store {
    /// The file `check` writes next to `data.mdb` when it finds structural damage. While it
    /// exists, read-write opens fail with ``TollgateError/Code/structuralDamage``.
    public static let damageMarkerName = "structure-damaged"

    /// Checks the LMDB structure of the store at `path` without opening it (a store too damaged
    /// to open, or one that must not be written to). Stop writers first: a concurrent commit can
    /// make a sound file look damaged. Records damage in the marker file.
    public static func checkStructure(path: String) throws(TollgateError) -> [IntegrityFinding] {
        let dataFile = path + "/data.mdb"
        guard FileManager.default.fileExists(atPath: dataFile) else { throw TollgateError(.notFound, "no store at \(path)") }
        return recordStructure(PageWalk.check(dataFile: dataFile), path: path)
    }

    /// Removes the damage marker of the store at `path`, after a structural check finds the
    /// store sound again (for example once it was rebuilt with `mdb_dump` and `mdb_load`).
    /// Throws ``TollgateError/Code/structuralDamage`` when damage remains.
    public static func clearStructuralDamage(path: String) throws(TollgateError) {
        let findings = try checkStructure(path: path)
        guard findings.isEmpty else {
            throw TollgateError(.structuralDamage, "the structure of \(path) is still damaged: " + findings.prefix(3).map(\.description).joined(separator: "; "))
        }
        if unlink(markerPath(path)) != 0 && errno != ENOENT {
            throw TollgateError(.storage, "cannot remove \(markerPath(path)): \(String(cString: strerror(errno)))")
        }
    }

    /// Throws when the store at `path` carries the damage marker: for read-write opens.
    static func refuseIfStructurallyDamaged(path: String) throws(TollgateError) {
        guard let reason = try? String(contentsOfFile: markerPath(path), encoding: .utf8) else { return }
        let firstLine = reason.split(separator: "\n").first.map(String.init) ?? "no details"
        throw TollgateError(.structuralDamage, "the last check of \(path) found structural damage (\(firstLine)); "
            + "it opens read-only only, until it is repaired and `tollgate check --clear-damage` succeeds")
    }

    /// The structure of this open store, as of the snapshot `txn` pins (so concurrent writers
    /// cannot reuse the pages being walked); `nil` when a writer was rewriting the snapshot's
    /// meta page as it was read (walk again in a new transaction).
    func checkStructure(_ txn: borrowing ReadTransaction) -> [IntegrityFinding]? {
        let report = PageWalk.check(dataFile: options.path + "/data.mdb", snapshot: UInt64(txn.id))
        return report.unstable ? nil : Self.recordStructure(report, path: options.path)
    }

    private static func markerPath(_ path: String) -> String { path + "/" + damageMarkerName }

    /// The findings, written to the marker when there are any. A clean walk leaves an existing
    /// marker alone: clearing it is an explicit decision.
    private static func recordStructure(_ report: PageWalk.Report, path: String) -> [IntegrityFinding] {
        var findings = report.findings.map { IntegrityFinding(table: "structure", problem: $0) }
        guard !findings.isEmpty else { return findings }
        let text = report.findings.joined(separator: "\n") + "\n"
        do { try text.write(toFile: markerPath(path), atomically: true, encoding: .utf8) } catch {
            findings.append(IntegrityFinding(table: "structure", problem: "cannot write the damage marker \(markerPath(path)): writers are not kept off"))
        }
        return findings
    }
}
