import Testing
@testable import Tollgate
import TollgateTestSupport

/// A temporary store with a `free` tier (2 per second + 5 per minute, fixed windows) and helpers.
struct Fixture {
    let temporary: TemporaryStore
    var store: Store { temporary.store }
    var clock: ManualClock { temporary.clock }

    init(_ configure: (inout Store.Options) -> Void = { _ in }) throws {
        temporary = try TemporaryStore(configure)
        try temporary.store.setTier(Tier(name: "free", limits: [
            Limit(name: "second", strategy: .fixedWindow, quantity: 2, windowMicroseconds: 1_000_000),
            Limit(name: "minute", strategy: .fixedWindow, quantity: 5, windowMicroseconds: 60_000_000),
        ]))
    }

    func key(_ request: NewKey = NewKey(owner: "acme", tier: "free")) throws -> IssuedKey {
        try store.createKey(request)
    }

    func remove() { temporary.remove() }
}
