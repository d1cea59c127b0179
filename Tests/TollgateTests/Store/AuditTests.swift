import Foundation
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// The audit log's append: one seek per event, no event ever dropped; and `removeTier`'s key
/// moves in bounded transactions (issue 12, item 16).
@Suite struct AuditTests {
    private func event(_ index: Int, at: Timestamp) -> AuditEvent {
        AuditEvent(at: at, kind: .keyTierChanged, actor: "test", subject: "key \(index)", detail: "")
    }

    /// The audit table's keys, in order: (time µs, transaction id, sequence).
    private func auditKeys(_ store: Store) throws -> [(at: Int64, transaction: UInt64, sequence: Int)] {
        try store.environment.read { txn in
            var keys: [(Int64, UInt64, Int)] = []
            try txn.forEach(in: store.tables.audit) { key, _ in
                let bytes = Array(key)
                let at = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let transaction = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                keys.append((Int64(bitPattern: at), transaction, Int(bytes[16]) << 8 | Int(bytes[17])))
                return .continue
            }
            return keys
        }
    }

    @Test func oneTransactionNumbersItsEventsInOrderWithoutGaps() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let store = fixture.store
        let at = fixture.clock.now()
        let count = 5_000
        let transaction: UInt64 = try store.environment.write { txn in
            for index in 0..<count { try Store.appendAudit(txn, store.tables, event(index, at: at)) }
            // A second instant in the same transaction starts its own sequence.
            try Store.appendAudit(txn, store.tables, event(count, at: at.adding(microseconds: 1)))
            return UInt64(txn.id)
        }
        let mine = try auditKeys(store).filter { $0.transaction == transaction }
        #expect(mine.count == count + 1)
        #expect(mine.prefix(count).map(\.sequence) == Array(0..<count))
        #expect(mine.last?.sequence == 0)
        let events = try store.auditEvents(since: at).filter { $0.kind == .keyTierChanged }
        #expect(events.map(\.subject) == (0...count).map { "key \($0)" })
    }

    @Test func aFullSequenceFailsTheTransactionInsteadOfDroppingTheEvent() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let store = fixture.store
        let at = fixture.clock.now()
        let before = try store.auditEvents().count
        var appendError: (any Error)?
        #expect(throws: (any Error).self) {
            try store.environment.write { txn in
                // Every sequence number of this transaction and instant is taken.
                var prefix: [UInt8] = []
                prefix.appendBigEndian(at.microseconds)
                prefix.appendBigEndian(UInt64(txn.id))
                let filler = event(0, at: at).encoded()
                for sequence in UInt16(0)...UInt16.max {
                    var key = prefix
                    key.appendBigEndian(sequence)
                    try txn.put(filler, forKey: key, in: store.tables.audit)
                }
                do { try Store.appendAudit(txn, store.tables, event(1, at: at)) } catch {
                    appendError = error
                    throw error
                }
            }
        }
        #expect((appendError as? TollgateError)?.code == .storage, "\(String(describing: appendError))")
        #expect(try store.auditEvents().count == before, "the failed transaction wrote nothing")
    }

    @Test func removingATierMovesItsKeysInBoundedBatchesAndAuditsEveryOne() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.setTier(Tier(name: "pro", limits: [.perSecond(100)]))
        let keys = try (0..<45).map { _ in try fixture.key() }
        let other = try fixture.key(NewKey(owner: "other", tier: "pro"))
        try store.removeTier(named: "free", movingKeysTo: "pro", actor: "ops", batchSize: 10)

        for key in keys { #expect(try store.key(id: key.info.id)?.tier == "pro") }
        #expect(try store.key(id: other.info.id)?.tier == "pro")
        #expect(try store.tier(named: "free") == nil)
        let events = try store.auditEvents()
        let moves = events.filter { $0.kind == .keyTierChanged }
        #expect(Set(moves.map(\.subject)) == Set(keys.map(\.info.id)), "one audit event per moved key")
        #expect(moves.count == keys.count)
        let removal = try #require(events.last { $0.kind == .tierRemoved })
        #expect(removal.detail.contains("45 key(s) moved to pro"))

        // Each transaction moved at most 10 keys.
        let perTransaction = Dictionary(grouping: try auditKeys(store).filter { $0.at == removal.at.microseconds }, by: \.transaction)
        #expect(perTransaction.count >= 5, "45 keys in batches of 10, then the removal")
        #expect(perTransaction.values.allSatisfy { $0.count <= 10 }, "\(perTransaction.mapValues(\.count))")
    }

    @Test func aTierInUseIsStillRefusedWithoutAReplacementAndNothingMoves() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try fixture.key()
        let before = try fixture.store.auditEvents().count
        let error = #expect(throws: TollgateError.self) { try fixture.store.removeTier(named: "free", movingKeysTo: nil, actor: nil, batchSize: 1) }
        #expect(error?.code == .tierInUse)
        #expect(try fixture.store.key(id: key.info.id)?.tier == "free")
        #expect(try fixture.store.auditEvents().count == before)
        let missing = #expect(throws: TollgateError.self) { try fixture.store.removeTier(named: "free", movingKeysTo: "nope") }
        #expect(missing?.code == .notFound)
    }
}
