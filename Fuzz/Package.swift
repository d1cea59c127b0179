// swift-tools-version: 6.2
// The fuzz targets: a package of its own beside Tollgate's, one libFuzzer executable per target.
// Build and run them with ./run.sh (see Docs/fuzzing.md), which builds the debug configuration with
// `--sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address` (not `--sanitize=fuzzer --sanitize=address`,
// which gives either coverage or ASan, by chance): each `Sources/<Target>/main.swift` holds only
// `LLVMFuzzerTestOneInput`, and libFuzzer's `main` runs.
import PackageDescription

// SwiftPM names a path dependency after its folder, which differs between checkouts (CI clones
// elsewhere): take the name of the folder this file's parent is in.
let rootFolder = String(#filePath.split(separator: "/").dropLast(2).last ?? "Tollgate")

let package = Package(
    name: "TollgateFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzKeys",
            dependencies: [
                .product(name: "Tollgate", package: rootFolder),
                .product(name: "TollgateTestSupport", package: rootFolder),
            ]
        ),
        .executableTarget(name: "FuzzLimits", dependencies: [.product(name: "Tollgate", package: rootFolder)]),
        .executableTarget(name: "FuzzRecords", dependencies: [.product(name: "Tollgate", package: rootFolder)]),
        .executableTarget(
            name: "FuzzHTTP",
            dependencies: [
                .product(name: "Tollgate", package: rootFolder),
                .product(name: "TollgateHTTP", package: rootFolder),
            ]
        ),
        .executableTarget(
            name: "FuzzOperations",
            dependencies: [
                .product(name: "Tollgate", package: rootFolder),
                .product(name: "TollgateTestSupport", package: rootFolder),
            ]
        ),
    ]
)

for target in package.targets {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.treatAllWarnings(as: .error))
    target.swiftSettings = settings
}
