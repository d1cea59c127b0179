import Dispatch
import Foundation
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport

/// Holds the store's LMDB write lock on a thread of its own until `release()`, so that requests
/// pile up in the group-commit queue: batches and back-pressure become deterministic. Shared with
/// `StoreReleaseTests`.
final class WriteLockHolder: Sendable {
    private let acquired = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(_ store: Store) {
        let environment = store.environment
        let thread = Thread { [acquired, released, done] in
            _ = try? environment.write { _ in
                acquired.signal()
                released.wait()
            }
            done.signal()
        }
        thread.start()
        acquired.wait()
    }

    func release() {
        released.signal()
        done.wait()
    }
}

/// What one concurrent `authorize` ended with.
private enum Ending: Sendable, Hashable {
    case decided(Decision)
    case failed(TollgateError.Code)

    var decision: Decision? {
        if case .decided(let decision) = self { return decision }
        return nil
    }

    var code: TollgateError.Code? {
        if case .failed(let code) = self { return code }
        return nil
    }
}

private func ending(_ body: () async throws(TollgateError) -> Decision) async -> Ending {
    do throws(TollgateError) {
        return .decided(try await body())
    } catch {
        return .failed(error.code)
    }
}

/// Gives other tasks a moment to reach the queue (they are all started; this only lets them run).
private func settle() async throws {
    try await Task.sleep(for: .milliseconds(150))
}

@Suite("Group commit")
struct GroupCommitTests {
    @Test(.timeLimit(.minutes(1)))
    func concurrentCallersOnOneKeyAdmitExactlyTheLimitAsIfSerial() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "hourly", limits: [.perHour(500)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "hourly"))

        let endings = await withTaskGroup(of: [Ending].self) { group in
            for _ in 0..<64 {
                group.addTask {
                    var mine: [Ending] = []
                    for _ in 0..<20 {
                        mine.append(await ending { () async throws(TollgateError) -> Decision in try await store.authorize(key: key.secret) })
                    }
                    return mine
                }
            }
            var all: [Ending] = []
            for await batch in group { all += batch }
            return all
        }
        #expect(endings.count == 64 * 20)
        let failures = endings.compactMap(\.code)
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        let decisions = endings.compactMap(\.decision)
        let allowed = decisions.filter(\.isAllowed)
        #expect(allowed.count == 500)
        #expect(decisions.allSatisfy { $0.isAllowed || $0.outcome == .rateLimited })
        // Serial equivalence: each admitted request saw the one before it, so "remaining after
        // me" takes every value from 499 down to 0 exactly once.
        let remaining = allowed.map { $0.limits[0].remaining }
        #expect(Set(remaining).count == 500)
        #expect(Set(remaining) == Set((0..<500).map(UInt64.init)))
        let after = try store.peek(key: key.secret)
        #expect(after.outcome == .rateLimited)
        #expect(after.limits[0].remaining == 0)
        let usage = try store.usage(keyID: key.info.id, now: temporary.clock.now())
        #expect(usage.last?.allowed == 500)
        #expect(usage.last?.consumed == 500)
    }

    @Test(.timeLimit(.minutes(1)))
    func aRequestThatThrowsFailsAloneWhileItsBatchCommits() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "by-ip", limits: [
            Limit(name: "everyone", strategy: .fixedWindow, quantity: 1_000, windowMicroseconds: 3_600_000_000, subject: .global),
            Limit(name: "per-ip", strategy: .fixedWindow, quantity: 1_000, windowMicroseconds: 3_600_000_000, subject: .custom("ip")),
        ]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "by-ip"))
        // Warm the writer up, then hold the write lock so that every request below lands in one queue.
        #expect(try await store.authorize(key: key.secret, subjects: ["ip": "10.0.0.0"]).isAllowed)
        let lock = WriteLockHolder(store)
        let before = store.writer.statistics

        let results = await withTaskGroup(of: (Int, Ending).self) { group in
            for index in 0..<32 {
                group.addTask {
                    // Every 8th request lacks the subject its tier limits by.
                    let subjects: [String: String] = index % 8 == 0 ? [:] : ["ip": "10.0.1.\(index)"]
                    let result = await ending { () async throws(TollgateError) -> Decision in
                        try await store.authorize(key: key.secret, subjects: subjects)
                    }
                    return (index, result)
                }
            }
            try? await settle()
            lock.release()
            var all: [(Int, Ending)] = []
            for await result in group { all.append(result) }
            return all
        }
        let after = store.writer.statistics
        #expect(results.count == 32)
        for (index, result) in results {
            if index % 8 == 0 {
                #expect(result.code == .missingSubject, "request \(index): \(result)")
            } else {
                #expect(result.decision?.isAllowed == true, "request \(index): \(result)")
            }
        }
        // They were answered in shared transactions, and the failures took nothing with them:
        // the global counter holds the warm-up request and the 28 valid ones.
        #expect(after.largest > 1, "\(after)")
        #expect(after.jobs - before.jobs == 32, "before \(before), after \(after)")
        let global = try store.peek(key: key.secret, subjects: ["ip": "10.0.9.9"])
        #expect(global.limits[0].remaining == 1_000 - 1 - 28)
    }

    /// A request that fails after its limits were evaluated — here on a damaged usage-ledger
    /// record, read after the counters were planned — must leave nothing of itself in the
    /// batch's transaction, while the batch commits for everyone else.
    @Test(.timeLimit(.minutes(1)))
    func aRequestThatFailsLateInABatchCommitsNoneOfItsWrites() async throws {
        let temporary = try TemporaryStore { $0.sweepInterval = nil }
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "hourly", limits: [
            .perHour(10),
            Limit(name: "everyone", strategy: .fixedWindow, quantity: 1_000, windowMicroseconds: 3_600_000_000, subject: .global),
        ]))
        let damaged = try store.createKey(NewKey(owner: "acme", tier: "hourly"))
        let healthy = try store.createKey(NewKey(owner: "acme", tier: "hourly"))
        #expect(try await store.authorize(key: damaged.secret).isAllowed)
        #expect(try await store.authorize(key: healthy.secret).isAllowed)
        let day = temporary.clock.now().daysSinceEpoch
        try store.environment.write { txn in
            try txn.put([0xFF], forKey: DailyUsage.tableKey(keyID: damaged.info.id, day: day), in: store.tables.usage)
        }
        let lock = WriteLockHolder(store)
        let before = store.writer.statistics

        let results = await withTaskGroup(of: (Bool, Ending).self) { group in
            for index in 0..<8 {
                group.addTask {
                    let isDamaged = index % 2 == 0
                    let secret = isDamaged ? damaged.secret : healthy.secret
                    let result = await ending { () async throws(TollgateError) -> Decision in try await store.authorize(key: secret) }
                    return (isDamaged, result)
                }
            }
            try? await settle()
            lock.release()
            var all: [(Bool, Ending)] = []
            for await result in group { all.append(result) }
            return all
        }
        let after = store.writer.statistics
        #expect(after.largest > 1, "the requests did not share a batch: \(after)")
        #expect(after.jobs - before.jobs == 8)
        for (isDamaged, result) in results {
            if isDamaged {
                #expect(result.code == .corruptRecord, "\(result)")
            } else {
                #expect(result.decision?.isAllowed == true, "\(result)")
            }
        }
        // The failed requests consumed nothing: neither their key's counter nor the shared one.
        let damagedNow = try store.peek(key: damaged.secret)
        #expect(damagedNow.limits[0].remaining == 9, "\(damagedNow.limits)")
        #expect(damagedNow.limits[1].remaining == 1_000 - 2 - 4, "\(damagedNow.limits)")
        let healthyNow = try store.peek(key: healthy.secret)
        #expect(healthyNow.limits[0].remaining == 10 - 1 - 4)
        #expect(try store.usage(keyID: healthy.info.id, now: temporary.clock.now()).last?.allowed == 5)
    }

    @Test(.timeLimit(.minutes(1)))
    func aFullQueueRefusesWithOverloadedAndNeverHangs() async throws {
        let temporary = try TemporaryStore { options in
            options.maxQueuedRequests = 1
            options.maxBatchSize = 1
        }
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "hourly", limits: [.perHour(100)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "hourly"))
        #expect(try await store.authorize(key: key.secret).isAllowed)
        let lock = WriteLockHolder(store)

        let endings = await withTaskGroup(of: Ending.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    await ending { () async throws(TollgateError) -> Decision in try await store.authorize(key: key.secret) }
                }
            }
            try? await settle()
            lock.release()
            var all: [Ending] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(endings.count == 200)
        let overloaded = endings.filter { $0.code == .overloaded }.count
        let allowed = endings.filter { $0.decision?.isAllowed == true }.count
        let refused = endings.filter { $0.decision?.outcome == .rateLimited }.count
        #expect(overloaded > 0)
        #expect(overloaded + allowed + refused == 200, "\(Set(endings.compactMap(\.code)))")
        #expect(allowed + 1 <= 100)
        // Batches of one, and the store serves normally once the crowd is gone.
        #expect(store.writer.statistics.largest == 1)
        let next = try await store.authorize(key: key.secret)
        #expect(next.isAllowed == (allowed + 1 < 100))
        #expect(next.limits[0].remaining == UInt64(100 - 1 - allowed - 1))
    }

    @Test(.timeLimit(.minutes(1)))
    func afterCloseAuthorizeThrowsClosed() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "hourly", limits: [.perHour(100)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "hourly"))
        #expect(try await store.authorize(key: key.secret).isAllowed)
        store.close()
        let asyncError = await #expect(throws: TollgateError.self) { try await store.authorize(key: key.secret) }
        #expect(asyncError?.code == .closed)
        let syncError = #expect(throws: TollgateError.self) { () throws -> Decision in try store.authorize(key: key.secret) }
        #expect(syncError?.code == .closed)
        let peekError = #expect(throws: TollgateError.self) { try store.peek(key: key.secret) }
        #expect(peekError?.code == .closed)
        // Closing again is harmless.
        store.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func closingAStoreWhoseWriterNeverRanStillRefuses() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "hourly", limits: [.perHour(100)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "hourly"))
        store.close()
        let error = await #expect(throws: TollgateError.self) { try await store.authorize(key: key.secret) }
        #expect(error?.code == .closed)
    }

    @Test(.timeLimit(.minutes(1)))
    func closingUnderLoadAnswersEveryCaller() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "hourly", limits: [.perHour(1_000)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "hourly"))
        #expect(try await store.authorize(key: key.secret).isAllowed)

        let endings = await withTaskGroup(of: [Ending].self) { group in
            for _ in 0..<32 {
                group.addTask {
                    var mine: [Ending] = []
                    for _ in 0..<10 {
                        mine.append(await ending { () async throws(TollgateError) -> Decision in try await store.authorize(key: key.secret) })
                    }
                    return mine
                }
            }
            try? await Task.sleep(for: .milliseconds(20))
            store.close()
            var all: [Ending] = []
            for await batch in group { all += batch }
            return all
        }
        #expect(endings.count == 320)
        let unexpected = endings.filter { $0.decision?.isAllowed != true && $0.code != .closed }
        #expect(unexpected.isEmpty, "\(unexpected.prefix(3))")
        // What was admitted before the close is on disk.
        let admitted = endings.filter { $0.decision?.isAllowed == true }.count
        let reopened = try temporary.reopen()
        #expect(try reopened.peek(key: key.secret).limits[0].remaining == UInt64(1_000 - 1 - admitted))
    }

    @Test(.timeLimit(.minutes(1)))
    func concurrentCallersShareBatchesInDurableMode() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        #expect(store.options.durability == .durable)
        try store.setTier(Tier(name: "roomy", limits: [.perHour(1_000_000)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "roomy"))
        let endings = await withTaskGroup(of: [Ending].self) { group in
            for _ in 0..<64 {
                group.addTask {
                    var mine: [Ending] = []
                    for _ in 0..<8 {
                        mine.append(await ending { () async throws(TollgateError) -> Decision in try await store.authorize(key: key.secret) })
                    }
                    return mine
                }
            }
            var all: [Ending] = []
            for await batch in group { all += batch }
            return all
        }
        #expect(endings.allSatisfy { $0.decision?.isAllowed == true })
        let statistics = store.writer.statistics
        #expect(statistics.jobs == 64 * 8)
        // Each sync is shared: while one batch syncs, the next one gathers.
        #expect(statistics.largest > 1, "\(statistics)")
        #expect(Double(statistics.jobs) / Double(max(statistics.batches, 1)) > 1, "\(statistics)")
    }
}

@Suite("Cancellation")
struct CancellationTests {
    @Test(.timeLimit(.minutes(1)))
    func aCancelledQueuedRequestAnswersAtOnceAndConsumesNothing() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "hourly", limits: [.perHour(100)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "hourly"))
        #expect(try await store.authorize(key: key.secret).isAllowed)
        let lock = WriteLockHolder(store)
        let task = Task { await ending { () async throws(TollgateError) -> Decision in try await store.authorize(key: key.secret) } }
        try await settle()
        let started = ContinuousClock.now
        task.cancel()
        let result = await task.value
        #expect(result.code == .cancelled)
        #expect(ContinuousClock.now - started < .seconds(5), "answered while the writer was still blocked")
        lock.release()
        // The cancelled request was dropped from the queue: only the first one counted.
        let next = try await store.authorize(key: key.secret)
        #expect(next.limits[0].remaining == 98)
    }

    /// A timeout too long for nanoseconds in `Int64` (`seconds * 1e9` trapped) means "no
    /// practical timeout", not a crash; a negative one means "at once".
    @Test func extremeTimeoutsAreClampedNotTrapped() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "hourly", limits: [.perHour(100)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "hourly"))
        #expect(try await store.authorize(AuthorizationRequest(key: key.secret), timeout: .seconds(Int64.max)).isAllowed)
        #expect(try await store.throttle([try! Limit(spec: "x=5/minute,by=global")], subjects: [:], timeout: .seconds(Int64.max)).isAllowed)
        #expect(Duration.seconds(Int64.max).saturatingNanoseconds == .max)
        #expect(Duration.seconds(Int64.min).saturatingNanoseconds == .min)
        #expect(Duration.milliseconds(1_500).saturatingNanoseconds == 1_500_000_000)
        #expect(Duration.seconds(-2).saturatingNanoseconds == -2_000_000_000)
    }

    @Test(.timeLimit(.minutes(1)))
    func aTimeoutAnswersTimedOutWhileTheWriterIsStuckAndDropsTheRequest() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "hourly", limits: [.perHour(100)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "hourly"))
        // Fast enough: a timeout that does not pass changes nothing.
        #expect(try await store.authorize(AuthorizationRequest(key: key.secret), timeout: .seconds(30)).isAllowed)
        let lock = WriteLockHolder(store)
        let started = ContinuousClock.now
        let result = await ending { () async throws(TollgateError) -> Decision in
            try await store.authorize(AuthorizationRequest(key: key.secret), timeout: .milliseconds(200))
        }
        let waited = ContinuousClock.now - started
        #expect(result.code == .timedOut)
        #expect(waited >= .milliseconds(150) && waited < .seconds(10))
        let throttled = await ending { () async throws(TollgateError) -> Decision in
            try await store.throttle([try! Limit(spec: "x=5/minute,by=global")], subjects: [:], timeout: .milliseconds(100))
        }
        #expect(throttled.code == .timedOut)
        lock.release()
        #expect(try await store.authorize(key: key.secret).limits[0].remaining == 98)
    }

    @Test(.timeLimit(.minutes(1)))
    func aRequestCancelledBeforeItIsQueuedNeverRuns() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = temporary.store
        try store.setTier(Tier(name: "hourly", limits: [.perHour(100)]))
        let key = try store.createKey(NewKey(owner: "acme", tier: "hourly"))
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await ending { () async throws(TollgateError) -> Decision in try await store.authorize(key: key.secret) }
        }
        #expect(await task.value.code == .cancelled)
        #expect(try store.peek(key: key.secret).limits[0].remaining == 100)
    }
}
