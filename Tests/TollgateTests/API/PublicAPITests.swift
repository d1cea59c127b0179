import Foundation
import Testing

/// Docs/api.md lists the whole public surface of the `Tollgate` module — every public top-level
/// declaration and every public member of `Store` — and this test holds it to the compiled
/// module's symbol graph (`swift-symbolgraph-extract`, shipped with the toolchain), in both
/// directions: a public declaration the page does not list, or a listed one that is gone, fails.
@Suite struct PublicAPITests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func docsAPIListsExactlyThePublicSurface() throws {
        let listed = try Self.listedInDocs()
        let compiled = try Self.publicSurface()
        let undocumented = compiled.subtracting(listed).sorted()
        let gone = listed.subtracting(compiled).sorted()
        #expect(undocumented.isEmpty, "public but not in Docs/api.md: \(undocumented)")
        #expect(gone.isEmpty, "in Docs/api.md but not public: \(gone)")
        #expect(compiled.count > 40, "the symbol graph looks empty: \(compiled.count) names")
    }

    /// The first cell of every table row of Docs/api.md: one or more backticked names.
    static func listedInDocs() throws -> Set<String> {
        let text = try String(contentsOf: root.appendingPathComponent("Docs/api.md"), encoding: .utf8)
        var names: Set<String> = []
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cell = line.dropFirst(2).prefix { $0 != "|" }
            for part in cell.split(separator: "`", omittingEmptySubsequences: true) {
                let name = part.trimmingCharacters(in: .whitespaces)
                if !name.isEmpty && name != "," && name != "·" { names.insert(name) }
            }
        }
        return names
    }

    /// Top-level public names, and `Store.member(labels:)` for Store's public members.
    static func publicSurface() throws -> Set<String> {
        let build = try Self.buildDirectory()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tollgate-symbols-\(getpid())")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: output) }
        var machine = utsname()
        uname(&machine)
        let architecture = withUnsafeBytes(of: machine.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "swift-symbolgraph-extract", "-module-name", "Tollgate", "-I", build.appendingPathComponent("Modules").path,
            "-Xcc", "-fmodule-map-file=" + root.appendingPathComponent("Sources/CTollgateLMDB/module.modulemap").path,
            "-target", "\(architecture)-unknown-linux-gnu", "-minimum-access-level", "public", "-output-dir", output.path,
        ]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "swift-symbolgraph-extract failed: \(message.prefix(2_000))")
        let data = try Data(contentsOf: output.appendingPathComponent("Tollgate.symbols.json"))
        let graph = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let symbols = try #require(graph["symbols"] as? [[String: Any]])
        var names: Set<String> = []
        for symbol in symbols {
            guard let path = symbol["pathComponents"] as? [String] else { continue }
            if path.count == 1 { names.insert(path[0]) }
            if path.count == 2 && path[0] == "Store" { names.insert("Store." + path[1]) }
        }
        return names
    }

    /// The directory of the build this test runs from (`.build/<triple>/debug`): it holds the
    /// test bundle and `Modules/`.
    static func buildDirectory() throws -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Modules/Tollgate.swiftmodule").path) { return directory }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = root.appendingPathComponent(".build/debug")
        try #require(FileManager.default.fileExists(atPath: fallback.appendingPathComponent("Modules/Tollgate.swiftmodule").path),
                     "no Modules/Tollgate.swiftmodule next to the test bundle or in .build/debug")
        return fallback
    }
}
