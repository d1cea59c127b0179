/// A bucket of `capacity` tokens refilled at `refill` tokens per `window`. Tokens are kept scaled
/// by `window`, so one microsecond refills exactly `refill` scaled units and no rounding ever
/// happens.
struct TokenBucket: LimiterAlgorithm {
    var refill: UInt64
    var window: Int64
    var capacity: UInt64

    struct State: Hashable {
        var scaledTokens: Int128
        /// When `scaledTokens` was computed. Never moves backwards.
        var updated: Int64
    }

    /// `capacity × window` < 2^127.
    private var scaledCapacity: Int128 { Int128(capacity) * Int128(window) }

    func fresh(at now: Int64) -> State {
        State(scaledTokens: scaledCapacity, updated: now)
    }

    func normalized(_ stored: CounterState, at now: Int64) -> State? {
        guard case .bucket(let scaledTokens, let updated) = stored else { return nil }
        // A clock behind `updated` (it went backwards) refills nothing: time stands still at `updated`.
        let refilledUntil = max(now, updated)
        let elapsed = UInt128(Int128(refilledUntil) - Int128(updated))
        // Tokens outside [0, capacity] come from a tier edited since they were stored.
        let tokens = min(max(scaledTokens, 0), scaledCapacity)
        return State(scaledTokens: adding(UInt128(refill) * elapsed, to: tokens), updated: refilledUntil)
    }

    func encoded(_ state: State) -> CounterState {
        .bucket(scaledTokens: state.scaledTokens, updated: state.updated)
    }

    func admitting(_ cost: UInt64, to state: State, at now: Int64) -> State? {
        let needed = scaledCost(cost)
        guard needed <= state.scaledTokens else { return nil }
        return State(scaledTokens: state.scaledTokens - needed, updated: state.updated)
    }

    func remaining(in state: State, at now: Int64) -> UInt64 {
        UInt64(state.scaledTokens / Int128(window))
    }

    /// Until the bucket is full; `Int64.max` when it never refills.
    func resetAfter(_ state: State, at now: Int64) -> Int64 {
        delayUntilTokens(reach: scaledCapacity, in: state, at: now) ?? .max
    }

    func retryAfter(_ cost: UInt64, in state: State, at now: Int64) -> Int64? {
        guard cost <= capacity else { return nil }
        return delayUntilTokens(reach: scaledCost(cost), in: state, at: now)
    }

    func refunding(_ cost: UInt64, to state: State, at now: Int64) -> State {
        State(scaledTokens: adding(UInt128(scaledCost(cost)), to: state.scaledTokens), updated: state.updated)
    }

    /// The charge left the bucket `C × W − charged` short of full, and the refill has repaid
    /// `q` of that per microsecond since; whatever admissions happened in between, the charge
    /// still withholds at least what is left of it (at most its own `k × W`). Giving back only
    /// that never lets the bucket admit more than it would have without the charge.
    func refunding(_ cost: UInt64, charged: CounterState, to state: State, at now: Int64) -> State? {
        guard case .bucket(let chargedTokens, let chargedAt) = charged else { return nil }
        let shortfall = UInt128(scaledCapacity - min(max(chargedTokens, 0), scaledCapacity))
        let elapsed = UInt128(max(Int128(now) - Int128(chargedAt), 0))
        let repaid = UInt128(refill) * elapsed
        guard repaid < shortfall, state.scaledTokens < scaledCapacity else { return nil }
        let inForce = min(shortfall - repaid, UInt128(scaledCost(cost)))
        return State(scaledTokens: adding(inForce, to: state.scaledTokens), updated: state.updated)
    }

    /// `cost × window` < 2^127.
    private func scaledCost(_ cost: UInt64) -> Int128 {
        Int128(cost) * Int128(window)
    }

    /// `tokens + scaledUnits`, capped at the capacity. The cap is tested first because the sum
    /// may not fit in 128 bits.
    private func adding(_ scaledUnits: UInt128, to tokens: Int128) -> Int128 {
        let room = UInt128(scaledCapacity - tokens)
        return scaledUnits >= room ? scaledCapacity : tokens + Int128(scaledUnits)
    }

    /// Microseconds from `now` until the bucket holds `target` scaled tokens (<= capacity), or
    /// `nil` if it never will.
    private func delayUntilTokens(reach target: Int128, in state: State, at now: Int64) -> Int64? {
        guard state.scaledTokens < target else { return 0 }
        guard refill > 0 else { return nil }
        let refillTime = UInt128(target - state.scaledTokens).dividedRoundingUp(by: UInt128(refill))
        return delay(from: now, until: Int128(state.updated).saturatingAdding(refillTime))
    }
}
