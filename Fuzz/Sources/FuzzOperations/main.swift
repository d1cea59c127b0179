// Fuzz target `operations`: the input bytes are the choices of a sequence of operations (set a
// tier, create a key, authorize and peek with costs and subjects, refund, revoke, disable,
// enable, move, rotate, add credits, reset counters, advance the manual clock, reopen) done on a
// real store and on the in-memory model of TollgateTestSupport (`ModelRun`, shared with the
// model-based test). Every answer must match the model's; a refused request must change nothing
// (checked by a peek before and after); at the end, after a restart, every counter, key list and
// usage ledger must equal the model's (so admitted ≤ limit, as the model's own event-log limiters
// say — it calls none of the engine's arithmetic). Requests go through the synchronous API and the
// async group-commit writer (single awaits and concurrent batches).
//
// One store directory per process, emptied before each input: a fresh store per input costs a
// few milliseconds, so keep inputs short (run.sh passes -max_len=512).
import Tollgate
import TollgateTestSupport
import Foundation
import Dispatch

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOperations(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    _ = removeDirectoryAtExit
    // The run is async (it drives the group-commit writer too); libFuzzer's callback is not, so
    // it waits for a task that does the whole run.
    let done = DispatchSemaphore(value: 0)
    Task {
        await runInput(bytes)
        // Only now: the run (and with it the store, closed and removed by its deinit) is gone.
        // Signalled from inside `runInput`, the next input could open its store in the same
        // directory while this run's deinit was still closing and deleting it.
        done.signal()
    }
    done.wait()
    return 0
}

/// One input, start to end; every object it makes is released when it returns.
func runInput(_ bytes: [UInt8]) async {
    let temporary: TemporaryStore
    do {
        try? FileManager.default.removeItem(atPath: directory)
        temporary = try TemporaryStore(directory: directory) { $0.durability = .periodic(interval: .seconds(3_600)) }
    } catch {
        fatalError("cannot create the store: \(error)")
    }
    let run = ModelRun(label: "input of \(bytes.count) bytes", choices: InputChoices(bytes), temporary: temporary)
    if let failure = await run.run(operations: 200) { fatalError(failure) }
}

/// One store directory for the whole process, removed when it exits; in /dev/shm where there is
/// one (a restart's sync then costs no disk write).
let directory = FileManager.default.fileExists(atPath: "/dev/shm")
    ? "/dev/shm/tollgate-fuzz-operations-\(getpid())"
    : TemporaryStore.makeDirectory(prefix: "tollgate-fuzz-operations")
let removeDirectoryAtExit: Void = { atexit { try? FileManager.default.removeItem(atPath: directory) } }()

/// The input as choices: each draw takes one byte, repeated to 64 bits, so `Int.random(in: a...b)`
/// is about `a + byte × (b − a + 1) / 256` and a mutated byte changes one choice. When the
/// input runs out, draws continue from a fixed generator (a draw may need more than one number)
/// and the run stops after its current operation.
struct InputChoices: ModelChoices {
    let bytes: [UInt8]
    var offset = 0
    var fallback = SeededGenerator(seed: 0x5EED)

    init(_ input: [UInt8]) { bytes = input }

    var isExhausted: Bool { offset >= bytes.count }

    mutating func next() -> UInt64 {
        if offset < bytes.count {
            defer { offset += 1 }
            return UInt64(bytes[offset]) &* 0x0101_0101_0101_0101
        }
        return fallback.next()
    }
}
