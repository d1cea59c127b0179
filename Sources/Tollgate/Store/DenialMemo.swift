import Synchronization

/// Remembers keys recently refused by a limit, so that while they stay refused their requests
/// are answered from a read snapshot without taking the write lock. Only routes requests: the
/// read-only path evaluates the real stored state, so a stale entry costs a little time, never
/// a wrong answer.
final class DenialMemo: Sendable {
    private let deniedUntil = Mutex<[KeyHash: Int64]>([:])
    private let capacity = 65_536

    func isDenied(_ hash: KeyHash, at now: Timestamp) -> Bool {
        deniedUntil.withLock { memo in
            guard let until = memo[hash] else { return false }
            if now.microseconds < until { return true }
            memo[hash] = nil
            return false
        }
    }

    func remember(_ hash: KeyHash, until: Timestamp) {
        deniedUntil.withLock { memo in
            if memo.count >= capacity {
                let now = until.microseconds
                memo = memo.filter { $0.value > now }
                if memo.count >= capacity { memo.removeAll() }
            }
            memo[hash] = until.microseconds
        }
    }
}
