public import Tollgate
import Foundation

/// A store in a fresh temporary directory, removed again by ``remove()``.
///
/// ```swift
/// let temporary = try TemporaryStore()
/// defer { temporary.remove() }
/// let store = temporary.store
/// ```
public final class TemporaryStore: Sendable {
    public let directory: String
    public let clock: ManualClock
    private let current: StoreBox

    /// The open store.
    public var store: Store { current.store }

    /// Creates a store with `configure` applied to its options (path and clock are set already).
    public convenience init(_ configure: (inout Store.Options) -> Void = { _ in }) throws {
        try self.init(directory: Self.makeDirectory(), configure)
    }

    /// A store in `directory` (created if missing; the store goes in its `store` folder), for a
    /// caller that reuses one directory, such as a fuzz target that empties it between inputs.
    public init(directory: String, _ configure: (inout Store.Options) -> Void = { _ in }) throws {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        clock = ManualClock()
        var options = Store.Options(path: directory + "/store")
        options.clock = clock
        configure(&options)
        current = StoreBox(try Store(options: options))
    }

    /// Closes the store and opens it again with the same options: what a restart sees.
    @discardableResult
    public func reopen(_ configure: (inout Store.Options) -> Void = { _ in }) throws -> Store {
        var options = current.store.options
        current.store.close()
        configure(&options)
        let reopened = try Store(options: options)
        current.replace(with: reopened)
        return reopened
    }

    /// Closes the store and deletes its directory.
    public func remove() {
        current.store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A new empty directory under the system's temporary directory.
    public static func makeDirectory(prefix: String = "tollgate-test") -> String {
        let path = NSTemporaryDirectory() + "/\(prefix)-\(UInt64.random(in: 0...UInt64.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Every byte of every file of the store, for tests that look for what must never be there.
    public func rawFileContents() throws -> [UInt8] {
        var bytes: [UInt8] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory + "/store") {
            bytes += Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/store/" + name)))
        }
        return bytes
    }
}

import Synchronization

/// Holds the current store so ``TemporaryStore/reopen(_:)`` can swap it.
final class StoreBox: Sendable {
    private let value: Mutex<Store>
    init(_ store: Store) { value = Mutex(store) }
    var store: Store { value.withLock { $0 } }
    func replace(with store: Store) { value.withLock { $0 = store } }
}
