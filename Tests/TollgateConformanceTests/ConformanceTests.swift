import Testing
import TollgateConformance

/// Every conformance case on every backend, each pair its own test case
/// (`swift test --filter Conformance`). A failing pair reports the case's ``ConformanceFailure``.
@Suite struct ConformanceTests {
    @Test(arguments: Backends.all, ConformanceCases.all)
    func conformance(backend: BackendFactory, case conformanceCase: ConformanceCase) async throws {
        try await conformanceCase.run(on: backend)
    }

    /// Case ids are unique, so a failure names exactly one case.
    @Test func caseIDsAreUnique() {
        let ids = ConformanceCases.all.map(\.id)
        #expect(Set(ids).count == ids.count)
    }
}
