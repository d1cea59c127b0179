/// How to make a fresh backend for one case.
public struct BackendFactory: Sendable, Identifiable, CustomStringConvertible {
    public var id: String
    public var make: @Sendable () async throws -> any ConformanceBackend

    public init(id: String, make: @escaping @Sendable () async throws -> any ConformanceBackend) {
        self.id = id
        self.make = make
    }

    public var description: String { id }
}

/// Every backend the suite runs against. A new backend adds its factory here (the Redis one: a
/// `redis-server` the factory starts on a free loopback port), and every case runs on it.
public enum Backends {
    public static let all: [BackendFactory] = [
        BackendFactory(id: "lmdb") { try LMDBBackend() },
    ]
}
