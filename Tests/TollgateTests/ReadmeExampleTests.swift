import Foundation
import Testing
import Tollgate
import TollgateTestSupport

// The README's example, verbatim (a test below checks the two do not drift apart).
func example(directory: String) async throws {
    let store = try Store(options: .init(path: directory))
    defer { store.close() }

    // A tier: 10 requests per second and 1,000 per UTC day, per key.
    try store.setTier(Tier(name: "free", limits: [.perSecond(10), .perDay(1_000)]))

    // Issue a key. Its secret exists only here: hand it to the client, Tollgate keeps a hash.
    let issued = try store.createKey(NewKey(owner: "acme", tier: "free", scopes: ["items:read"]))

    // Decide a request: verify, check and consume every limit, in one transaction.
    let decision = try await store.authorize(key: issued.secret, cost: 1, scope: "items:read")
    switch decision.outcome {
    case .allowed:
        print("allowed; \(decision.limits[0].remaining) left this second")
    case .rateLimited:
        print("retry in \(decision.retryAfter ?? 0) µs")
    default:
        print("refused: \(decision.outcome)")
    }
}

@Suite struct ReadmeExampleTests {
    @Test func theExampleRuns() async throws {
        let directory = TemporaryStore.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await example(directory: directory + "/store")
        let store = try Store(options: .init(path: directory + "/store"))
        defer { store.close() }
        #expect(try store.allKeys().count == 1)
        #expect(try store.usage(keyID: store.allKeys()[0].id).first?.allowed == 1)
    }

    @Test func theReadmeShowsThisFilesExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let thisFile = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let start = try #require(readme.range(of: "```swift\n"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let snippet = readme[start.upperBound..<end.lowerBound].replacingOccurrences(of: "import Tollgate\n\n", with: "")
        #expect(thisFile.contains(snippet), "README.md's Swift example and ReadmeExampleTests.swift differ")
    }
}
