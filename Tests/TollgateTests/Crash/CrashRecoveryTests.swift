import Foundation
import Testing
@testable import Tollgate
import TollgateLMDB
import TollgateTestSupport
#if canImport(Glibc)
import Glibc
#endif

extension Crash {
    /// Kill -9 at random moments, then check what a restarted process finds.
    ///
    /// A trial: start `tollgate-stress`, let it decide for a random 20–150 ms (every eighth
    /// trial: kill it 0–40 ms after the start, during process start, store creation or setup),
    /// SIGKILL it, read what it printed — decisions it acknowledged — and check the store:
    /// - it opens, and every record of every table decodes; the public listings and `peek` work;
    /// - every acknowledged admission is there: the key's counter ≥ admissions acknowledged over
    ///   all trials (process crashes lose nothing in both durability modes), and the usage
    ///   ledger's `allowed` equals the counter (both are written in the same transaction);
    /// - admitted ≤ limit, and no two acknowledged admissions got the same `remaining`;
    /// - no stale reader slot is left, and the next write finishes within a few seconds.
    ///
    /// Each test also counts where its kills landed (the child's `PhaseMarker`: inside a write,
    /// a commit, a sync, a backup), prints the shares and requires a minimum of the phases it
    /// is there for.
    ///
    /// The parent keeps the store open during even trials (the child dies next to a live peer:
    /// LMDB's robust writer mutex and stale reader slots) and closed during odd ones (the
    /// restart after the only user died: the lock file is rebuilt at open).
    @Suite struct CrashRecoveryTests {
        @Test func durableAcknowledgedDecisionsSurvive() async throws {
            var run = try CrashRun(name: "durable", periodic: false, limit: 1_000_000)
            defer { run.finish() }
            for trial in 0..<Crash.trials(0.35) {
                // Group commit with many tasks, and the synchronous API from several threads.
                let style = trial % 3 == 2 ? ["--sync", "--threads", "3"] : ["--threads", "32"]
                try await run.trial(trial, arguments: style)
            }
            #expect(run.ledger.acknowledgedAllowed > 0)
            run.report()
            // Durable commits wait for `fdatasync`: most kills land inside one.
            run.expectKills(inside: .write, atLeast: 0.6)
            run.expectKills(inside: .commit, atLeast: 0.4)
        }

        /// Periodic mode never syncs during these runs (interval: one hour): what a process
        /// crash must not lose sits in the OS page cache, and LMDB reads it back.
        @Test func periodicLosesNothingWhenTheProcessDies() async throws {
            var run = try CrashRun(name: "periodic", periodic: true, limit: 1_000_000)
            defer { run.finish() }
            for trial in 0..<Crash.trials(0.2) {
                let style = trial % 3 == 2 ? ["--sync", "--threads", "3"] : ["--threads", "32"]
                try await run.trial(trial, arguments: style)
            }
            #expect(run.ledger.acknowledgedAllowed > 0)
            run.report()
            // Without a sync, commits are short: fewer kills land inside one.
            run.expectKills(inside: .write, atLeast: 0.2)
        }

        /// A limit the trials reach: never one acknowledged admission more than it.
        @Test func aSmallLimitIsNeverExceeded() async throws {
            let limit: UInt64 = 300
            var run = try CrashRun(name: "small-limit", periodic: false, limit: limit)
            defer { run.finish() }
            // The planned trials, and more (a few at most) until the limit is reached.
            var trial = 0
            var reached = false
            while trial < Crash.trials(0.15) || (!reached && trial < Crash.trials(0.15) + 20) {
                let style = trial % 2 == 1 ? ["--sync", "--threads", "3"] : ["--threads", "32"]
                try await run.trial(trial, arguments: style)
                reached = StoreInspection(try run.witness(), keyID: run.keyID).counter == limit
                trial += 1
            }
            #expect(run.ledger.acknowledgedAllowed <= limit)
            let final = StoreInspection(try run.witness(), keyID: run.keyID)
            #expect(final.counter == limit, "the trials reach the limit")
            run.report()
            // No share required: once the limit is reached, refusals are answered without a
            // write, so most kills land outside LMDB (3 % inside a write, measured) by design.
        }

        /// A 64 KiB map that every run has to grow: each request writes a counter of its own
        /// (a new `user` subject) or creates a key; every acknowledged key must exist afterwards.
        /// A fresh store every six trials, so that growth keeps happening.
        @Test func killedWhileTheMapGrows() async throws {
            var run = try CrashRun(name: "growth", periodic: false, limit: 1_000_000, mapSize: 64 << 10)
            defer { run.finish() }
            for trial in 0..<Crash.trials(0.15) {
                if trial > 0 && trial % 6 == 0 { try run.freshStore() }
                let mode = trial % 2 == 0 ? "grow-subjects" : "grow-keys"
                try await run.trial(trial, arguments: ["--mode", mode, "--threads", mode == "grow-keys" ? "4" : "32", "--map-size", "\(64 << 10)"])
            }
            #expect(run.trialsThatGrewTheMap > 0, "the children had to grow the map")
            run.report()
            run.expectKills(inside: .write, atLeast: 0.4)
            run.expectKills(inside: .commit, atLeast: 0.3)
        }

        /// The moment the random trials hit only by chance, made certain: a process dies while it
        /// holds LMDB's writer lock, in the middle of a write transaction. The next writer must
        /// neither hang nor see the dead transaction's writes: with the store open here all
        /// along, a writer already waiting for the lock takes it over (robust mutex); without,
        /// the next open rebuilds the lock file.
        @Test(arguments: [true, false])
        func aProcessKilledInsideAWriteBlocksNobody(parentKeepsStoreOpen: Bool) async throws {
            let directory = TemporaryStore.makeDirectory(prefix: "tollgate-crash-lock")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/store"
            let marker = directory + "/child.pid"
            var parent: Store? = try Store(options: Store.Options(path: path))
            try parent?.setTier(Tier(name: "crash", limits: [.perHour(1_000, name: "window")]))
            let secret = try #require(try parent?.createKey(NewKey(owner: "crash", tier: "crash")).secret)
            if !parentKeepsStoreOpen {
                parent?.close()
                parent = nil
            }

            async let child = #expect(processExitsWith: .signal(SIGKILL)) { [path = path as String, marker = marker as String] in
                alarm(60) // if never killed, SIGALRM (not SIGKILL) fails the test
                let store = try Store(options: Store.Options(path: path))
                let key = try #require(try store.tiers().first.map { _ in try store.allKeys()[0] })
                try store.environment.write { txn in
                    // Half a transaction: consume the key's whole hour, then die before committing.
                    let counter = StoredCounter(state: .window(start: 0, count: 1_000), staleAt: Timestamp(seconds: 1 << 40))
                    try txn.put(counter.encoded(), forKey: CounterSubject.key(id: key.id).tableKey(limit: "window"), in: store.tables.counters)
                    _ = FileManager.default.createFile(atPath: marker + ".tmp", contents: Data("\(getpid())".utf8))
                    rename(marker + ".tmp", marker)
                    while true { pause() }
                }
            }
            var pid: pid_t?
            for _ in 0..<3_000 where pid == nil {
                if let text = try? String(contentsOfFile: marker, encoding: .utf8) { pid = pid_t(text) } else {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            let childPID = try #require(pid, "the child never entered its write transaction")

            // While the child holds the writer lock, a write here waits for it.
            let waiting = parent.map { store in BackgroundCall { () throws(TollgateError) in try store.authorize(key: secret) } }
            if let waiting {
                #expect(await waiting.result(within: .milliseconds(300)) == nil, "the write did not wait for the child's lock")
            }
            #expect(kill(childPID, SIGKILL) == 0)
            _ = await child

            if let waiting {
                let result = try #require(await waiting.result(within: .seconds(10)), "the waiting write hung after the lock holder died")
                #expect(try result.get().isAllowed, "the dead transaction's writes are not visible")
            }
            let store = try parent ?? Store(options: Store.Options(path: path))
            defer { store.close() }
            let next = try #require(await BackgroundCall { () throws(TollgateError) in try store.authorize(key: secret) }.result(within: .seconds(10)),
                                    "the next write hung after the lock holder died")
            let decision = try next.get()
            #expect(decision.isAllowed)
            #expect(decision.limits.first?.remaining == (parentKeepsStoreOpen ? 998 : 999))
            #expect(try store.environment.checkReaders() == 0)
            #expect(store.environment.info().readersInUse == 0)
        }

        /// Many short-lived subjects — a `user` limit with a 50 ms window and a new `user` for
        /// every request — while one thread of the child sweeps in batches of 50 (`S` lines):
        /// killed mid-sweep, the store must open, pass `check()`, keep every acknowledged
        /// admission of the shared key's long window, and take the next write.
        @Test func killedWhileSweeping() async throws {
            var run = try CrashRun(name: "sweep", periodic: false, limit: 1_000_000)
            run.checksIntegrity = true
            defer { run.finish() }
            var sweeps = 0
            var swept = 0
            for trial in 0..<Crash.trials(0.1) {
                let style = trial % 3 == 2 ? ["--sync", "--threads", "3"] : ["--threads", "32"]
                let output = try await run.trial(trial, arguments: ["--mode", "sweep"] + style)
                sweeps += output.sweeps
                swept += output.sweptCounters
            }
            // A full sweep here finishes on what the dead children left half swept.
            let store = try run.witness()
            _ = try store.sweep()
            let findings = try store.check()
            #expect(findings.isEmpty, "after a final sweep: \(findings.prefix(5))")
            #expect(run.ledger.acknowledgedAllowed > 0)
            #expect(sweeps > 0, "no sweep was acknowledged")
            #expect(swept > 0, "the acknowledged sweeps removed nothing")
            run.report()
            run.expectKills(inside: .write, atLeast: 0.4)
            print("crash sweep: \(sweeps) acknowledged sweeps removed \(swept) stale counters")
        }

        /// The child backs the store up in a loop (`B <dir>` once `backup(to:)` returned) while
        /// deciding. After the kill: the store checks as above; every acknowledged backup opens
        /// read-only and passes `check()`; a backup the child did not acknowledge may be partial,
        /// but restoring it either yields a store that passes `check()` or fails with an error,
        /// leaving no store behind.
        @Test func killedWhileBackingUp() async throws {
            var run = try CrashRun(name: "backup", periodic: false, limit: 1_000_000)
            run.checksIntegrity = true
            defer { run.finish() }
            var acknowledged = 0
            var unacknowledged = 0
            var restoredUnacknowledged = 0
            var refused: [String] = []
            for trial in 0..<Crash.trials(0.1) {
                let backups = "\(run.directory)/backups-\(trial)"
                let style = trial % 3 == 2 ? ["--sync", "--threads", "3"] : ["--threads", "16"]
                let output = try await run.trial(trial, arguments: ["--mode", "backup", "--backup-dir", backups] + style)
                for path in output.backups {
                    acknowledged += 1
                    var options = Store.Options(path: path)
                    options.readOnly = true
                    options.create = false
                    let backup = try Store(options: options)
                    let findings = try backup.check()
                    let tiers = try backup.tiers().map(\.name)
                    backup.close()
                    #expect(findings.isEmpty, "trial \(trial): acknowledged backup \(path): \(findings.prefix(5))")
                    #expect(tiers == ["crash"], "trial \(trial): acknowledged backup \(path) holds tiers \(tiers)")
                }
                let acknowledgedPaths = Set(output.backups)
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: backups)) ?? []
                for entry in entries.sorted() where !acknowledgedPaths.contains("\(backups)/\(entry)") {
                    unacknowledged += 1
                    let target = "\(run.directory)/restored-\(trial)-\(entry)"
                    let outcome = restoreAndCheck(backup: "\(backups)/\(entry)", to: target)
                    switch outcome {
                    case .success(let findings):
                        restoredUnacknowledged += 1
                        #expect(findings.isEmpty, "trial \(trial): restored unacknowledged backup \(entry): \(findings.prefix(5))")
                    case .failure(let error):
                        refused.append("\(error.code): \(error.message)")
                        #expect(!FileManager.default.fileExists(atPath: target + "/data.mdb"), "trial \(trial): a refused restore left a store at \(target)")
                    }
                    try? FileManager.default.removeItem(atPath: target)
                }
                try? FileManager.default.removeItem(atPath: backups)
            }
            #expect(run.ledger.acknowledgedAllowed > 0)
            #expect(acknowledged > 0, "no backup was acknowledged")
            run.report()
            run.expectKills(inside: .backup, atLeast: 0.2)
            print("crash backup: \(acknowledged) acknowledged backups checked; \(unacknowledged) unacknowledged:"
                  + " \(restoredUnacknowledged) restored and checked, \(refused.count) refused \(refused.prefix(3))")
        }

        /// Restores `backup` to `target` and checks the result: the findings, or why it failed.
        private func restoreAndCheck(backup: String, to target: String) -> Result<[IntegrityFinding], TollgateError> {
            Result { () throws(TollgateError) -> [IntegrityFinding] in
                _ = try Store.restore(backup: backup, to: target)
                var options = Store.Options(path: target)
                options.create = false
                options.readOnly = true
                let restored = try Store(options: options)
                defer { restored.close() }
                return try restored.check()
            }
        }

        /// Deterministic: a backup cut short after its meta pages (what a child killed inside
        /// `backup(to:)` leaves), an empty data file and an empty directory: `restore` refuses
        /// each with an error and leaves nothing at the target.
        @Test func restoreRefusesAnIncompleteBackup() throws {
            let directory = TemporaryStore.makeDirectory(prefix: "tollgate-crash-partial")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = try Store(options: Store.Options(path: directory + "/store"))
            try store.setTier(Tier(name: "crash", limits: [.perHour(1_000, name: "window")]))
            for number in 0..<300 { _ = try store.createKey(NewKey(owner: "owner-\(number)", tier: "crash", name: String(repeating: "n", count: 100))) }
            try store.backup(to: directory + "/complete")
            store.close()
            let data = try #require(FileManager.default.contents(atPath: directory + "/complete/data.mdb"))
            #expect(data.count > 8 * 4_096)

            for (name, contents) in [("cut", data.prefix(data.count / 2)), ("metas-only", data.prefix(2 * 4_096)), ("empty", Data())] {
                let backup = directory + "/" + name
                #expect(mkdir(backup, 0o700) == 0)
                #expect(FileManager.default.createFile(atPath: backup + "/data.mdb", contents: Data(contents)))
                let error = #expect(throws: TollgateError.self) { _ = try Store.restore(backup: backup, to: directory + "/target-" + name) }
                #expect(error?.code == .corruptRecord, "\(name): \(String(describing: error))")
                #expect(error?.message.contains("incomplete backup") == true, "\(name): \(String(describing: error))")
                #expect(!FileManager.default.fileExists(atPath: directory + "/target-" + name))
            }
            #expect(mkdir(directory + "/no-data", 0o700) == 0)
            let missing = #expect(throws: TollgateError.self) { _ = try Store.restore(backup: directory + "/no-data", to: directory + "/target-no-data") }
            #expect(missing?.code == .notFound)

            let findings = try Store.restore(backup: directory + "/complete", to: directory + "/target-complete")
            #expect(findings.isEmpty)
        }

        /// Two workloads share the store; one is killed while the other keeps deciding, then
        /// started again, then the other is killed, and so on.
        @Test func twoProcessesKilledAlternately() async throws {
            var run = try CrashRun(name: "two-processes", periodic: false, limit: 1_000_000)
            defer { run.finish() }
            let styles = [["--threads", "16"], ["--sync", "--threads", "2"]]
            var workers = try [0, 1].map { try run.start(styles[$0], label: "w\($0)-0") }
            for worker in workers { #expect(await worker.waitUntilReady(), "\(worker.diagnosis)") }
            run.secret = publishedSecret(run.path)
            for round in 0..<Crash.trials(0.15) {
                let victim = round % 2
                try await Task.sleep(for: randomMilliseconds(20...150))
                let killed = workers[victim]
                let killedBySignal = await killed.kill()
                try #require(killedBySignal, "the workload ended by itself: \(killed.diagnosis)")
                run.recordPhases(of: killed)
                run.ledger.add(killed.output)
                // The survivor goes on deciding: what it printed so far counts as acknowledged.
                let survivor = workers[1 - victim]
                var known = run.ledger
                known.add(survivor.output)
                try await run.check(round, ledger: known, peerRunning: true)
                workers[victim] = try run.start(styles[victim], label: "w\(victim)-\(round + 1)")
                #expect(await workers[victim].waitUntilReady(), "\(workers[victim].diagnosis)")
            }
            for worker in workers {
                let killedBySignal = await worker.kill()
                #expect(killedBySignal, "\(worker.diagnosis)")
                run.ledger.add(worker.output)
            }
            run.closeWitness()
            try await run.check(Crash.trials(0.15), ledger: run.ledger, peerRunning: false)
            run.report()
            run.expectKills(inside: .write, atLeast: 0.2)
        }
    }
}

/// The parent's side of a series of kill trials on one store.
struct CrashRun {
    let name: String
    let directory: String
    let periodic: Bool
    let limit: UInt64
    let initialMapSize: Int?
    /// Also run `Store.check()` after every trial and expect no findings.
    var checksIntegrity = false
    var path: String
    var ledger: Ledger
    var secret: String?
    var keyID: String?
    private var store: Store?
    private var storeNumber = 0
    private var trials = 0
    private var earlyKills = 0
    /// Children killed before they printed `R`: inside process start, store creation or setup.
    private var killedDuringSetup = 0
    /// What the ledgers of earlier stores (see ``freshStore()``) counted.
    private var earlierAllowed: UInt64 = 0
    private var earlierDenied = 0
    private var earlierKeys = 0
    /// Trials whose child wrote beyond the map it opened with (64 KiB, or the store's used size
    /// if larger), so had to grow it.
    private(set) var trialsThatGrewTheMap = 0
    private var staleReaderSlots = 0
    /// Kills recorded by ``recordPhases(of:)``, and how many of them found some thread of the
    /// child inside each phase.
    private(set) var killsWithPhases = 0
    private(set) var killsInside: [LMDBPhase: Int] = [:]
    private var parentDecisions = 0
    private let started = ContinuousClock.now

    init(name: String, periodic: Bool, limit: UInt64, mapSize: Int? = nil) throws {
        self.name = name
        self.directory = TemporaryStore.makeDirectory(prefix: "tollgate-crash")
        self.periodic = periodic
        self.limit = limit
        self.initialMapSize = mapSize
        self.path = directory + "/store-0"
        self.ledger = Ledger(limit: limit)
    }

    var arguments: [String] {
        ["--store", path, "--durability", periodic ? "periodic" : "durable", "--limit", "\(limit)"]
    }

    /// The parent's store, opened if closed. Opening is itself part of what is checked.
    mutating func witness() throws -> Store {
        if let store { return store }
        let opened = try Store(options: crashStoreOptions(path: path, periodic: periodic, mapSize: initialMapSize))
        store = opened
        return opened
    }

    mutating func closeWitness() {
        store?.close()
        store = nil
    }

    /// Starts over on a new, empty store.
    mutating func freshStore() throws {
        closeWitness()
        earlierAllowed += ledger.acknowledgedAllowed
        earlierDenied += ledger.acknowledgedDenied
        earlierKeys += ledger.createdKeys.count
        storeNumber += 1
        path = directory + "/store-\(storeNumber)"
        ledger = Ledger(limit: limit)
        secret = nil
        keyID = nil
    }

    func start(_ extra: [String], label: String) throws -> WorkloadProcess {
        try WorkloadProcess(arguments + extra, logs: "\(directory)/\(label)")
    }

    /// One trial: run, kill, check. Returns what the child printed.
    @discardableResult
    mutating func trial(_ number: Int, arguments extra: [String]) async throws -> WorkloadOutput {
        let usedBefore = store?.environment.info().usedBytes ?? 0
        if number % 2 == 0 { _ = try witness() } else { closeWitness() }
        let worker = try start(extra, label: "s\(storeNumber)-t\(number)")
        if number % 8 == 7 {
            earlyKills += 1
            try await Task.sleep(for: randomMilliseconds(0...40))
        } else {
            let ready = await worker.waitUntilReady()
            try #require(ready, "trial \(number): the workload did not start: \(worker.diagnosis)")
            try await Task.sleep(for: randomMilliseconds(20...150))
        }
        let killedBySignal = await worker.kill()
        try #require(killedBySignal, "trial \(number): the workload ended by itself: \(worker.diagnosis)")
        recordPhases(of: worker)
        let output = worker.output
        if !output.ready { killedDuringSetup += 1 }
        ledger.add(output)
        if let initialMapSize, try witness().environment.info().usedBytes > max(usedBefore, initialMapSize) {
            trialsThatGrewTheMap += 1
        }
        try await check(number, ledger: ledger, peerRunning: false)
        return output
    }

    /// Counts where the child just killed was: a kill outside every LMDB call tests less than
    /// one inside a commit or a backup.
    mutating func recordPhases(of worker: WorkloadProcess) {
        killsWithPhases += 1
        for phase in worker.phasesAtDeath { killsInside[phase, default: 0] += 1 }
    }

    /// The share of recorded kills that found some thread inside `phase`.
    func share(inside phase: LMDBPhase) -> Double {
        killsWithPhases == 0 ? 0 : Double(killsInside[phase] ?? 0) / Double(killsWithPhases)
    }

    /// Expects at least `minimum` of the kills inside `phase`: the trials must hit the moments
    /// they are there for, not only run while they happen.
    ///
    /// Below 15 kills (`TOLLGATE_CRASH_TRIALS` set low) a share says too little to fail on; it
    /// is still printed by ``report()``.
    func expectKills(inside phase: LMDBPhase, atLeast minimum: Double, sourceLocation: SourceLocation = #_sourceLocation) {
        guard killsWithPhases >= 15 else { return }
        let share = share(inside: phase)
        #expect(share >= minimum, "\(name): \(percent(share)) of \(killsWithPhases) kills inside \(phase), expected ≥ \(percent(minimum))",
                sourceLocation: sourceLocation)
    }

    /// `inside write 81 %, commit 40 %, sync 0 %, backup 0 %`.
    var phaseSummary: String {
        "kills inside " + LMDBPhase.allCases.map { "\($0) \(percent(share(inside: $0)))" }.joined(separator: ", ")
    }

    private func percent(_ share: Double) -> String { "\(Int((share * 100).rounded())) %" }

    /// The parent's requests: `user` feeds the grow-subjects tier's second limit; other tiers ignore it.
    static let parentSubjects = ["user": "parent"]

    /// Everything a restarted process must find. `known` is every acknowledged decision so far;
    /// with `peerRunning`, another workload is still deciding.
    mutating func check(_ number: Int, ledger known: Ledger, peerRunning: Bool) async throws {
        let context = "\(name), store \(storeNumber), trial \(number)"
        trials += 1
        let store = try witness()
        if secret == nil { secret = publishedSecret(path) }

        // Stale reader slots: a child killed inside a read transaction leaves its slot.
        // (With the store just reopened by its only user, LMDB rebuilt the table at open.)
        let cleared = try store.environment.checkReaders()
        staleReaderSlots += cleared
        if !peerRunning {
            #expect(store.environment.info().readersInUse == 0, "\(context): reader slots left")
        }
        #expect(try store.environment.checkReaders() == 0, "\(context): a stale reader slot survived the check")

        // The next write finishes (a child killed holding LMDB's writer mutex must not block it).
        let secret = self.secret
        let write = await BackgroundCall { () throws(TollgateError) -> Decision? in
            if let secret { return try store.authorize(key: secret, subjects: Self.parentSubjects) }
            try store.resetCounters(.subject(name: "probe", value: "none"))
            return nil
        }.result(within: .seconds(10))
        let answered = try #require(write, "\(context): the next write did not finish within 10 s")
        let decision = try answered.get()
        var known = known
        if let decision {
            if keyID == nil { keyID = decision.key?.id }
            ledger.add(decision)
            known.add(decision)
            parentDecisions += 1
        }

        // Every record decodes; the public API reads everything.
        let inspection = StoreInspection(store, keyID: keyID)
        let problems = inspection.problems.count
        #expect(problems == 0, "\(context): \(inspection.problems.prefix(5))")
        let keys = try store.allKeys()
        for key in keys { _ = try store.usage(keyID: key.id, days: 3) }
        let tiers = try store.tiers()
        if secret != nil { #expect(tiers.map(\.name) == ["crash"]) }
        #expect(try !store.auditEvents().isEmpty)
        for id in known.createdKeys {
            #expect(keys.contains { $0.id == id }, "\(context): acknowledged key \(id) is missing")
        }

        if checksIntegrity {
            let findings = try store.check()
            #expect(findings.isEmpty, "\(context): check() found \(findings.prefix(5))")
        }

        // The books: nothing acknowledged is lost, nothing over the limit, no slot given twice.
        let unexpected = known.unexpected.count
        #expect(unexpected == 0, "\(context): \(known.unexpected.prefix(5))")
        let givenTwice = known.duplicateRemaining.count
        #expect(givenTwice == 0, "\(context): remaining values given twice: \(known.duplicateRemaining.prefix(10))")
        #expect(known.acknowledgedAllowed <= limit, "\(context): \(known.acknowledgedAllowed) acknowledged admissions, limit \(limit)")
        #expect(inspection.counter <= limit, "\(context): counter \(inspection.counter) over the limit \(limit)")
        #expect(inspection.counter >= known.acknowledgedAllowed,
                "\(context): \(known.acknowledgedAllowed) admissions acknowledged, the store counts \(inspection.counter)")
        #expect(inspection.counter >= known.provenAdmitted, "\(context): an acknowledged remaining proves \(known.provenAdmitted) admissions, the store counts \(inspection.counter)")
        #expect(inspection.usageAllowed == inspection.counter, "\(context): usage says \(inspection.usageAllowed) allowed, the counter \(inspection.counter)")
        if let secret {
            let peek = try store.peek(key: secret, subjects: Self.parentSubjects)
            #expect(peek.outcome == .allowed || peek.outcome == .rateLimited, "\(context): peek says \(peek.outcome)")
            if !peerRunning, let window = peek.limits.first(where: { $0.name == "window" }) {
                #expect(limit - window.remaining == inspection.counter, "\(context): peek and the raw counter disagree")
            }
        }
        let passed = givenTwice == 0 && problems == 0 && inspection.counter >= known.acknowledgedAllowed && inspection.counter <= limit
        try #require(passed, "\(context): stopping at the first failed trial")
    }

    func report() {
        let keys = earlierKeys + ledger.createdKeys.count
        print("crash \(name): \(trials) kill trials in \(String(format: "%.1f", secondsSince(started))) s;"
              + " \(earlyKills) killed 0–40 ms after start (\(killedDuringSetup) before setup finished);"
              + " acknowledged: \(earlierAllowed + ledger.acknowledgedAllowed) admissions, \(earlierDenied + ledger.acknowledgedDenied) denials"
              + (keys > 0 ? ", \(keys) created keys" : "")
              + " (\(parentDecisions) decisions by the parent); \(storeNumber + 1) store(s); \(staleReaderSlots) stale reader slots cleared"
              + (initialMapSize == nil ? "" : "; the child had to grow the map in \(trialsThatGrewTheMap) trials")
              + (killsWithPhases == 0 ? "" : "; \(phaseSummary)"))
    }

    mutating func finish() {
        closeWitness()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
