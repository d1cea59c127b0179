// swift-tools-version: 6.2
// The benchmarks: their own package, so the root package's build and CI stay as they are.
// Depends on the root package by path. `Benchmarks/run.sh` builds and runs everything.
import PackageDescription

let package = Package(
    name: "TollgateBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Tollgate", path: ".."),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/ordo-one/malloc-interposer.git", exact: "1.6.1"),
    ],
    targets: [
        // Workloads and measurement shared by the executables below.
        .target(
            name: "BenchKit",
            dependencies: [
                .product(name: "Tollgate", package: "Tollgate"),
                .product(name: "TollgateLMDB", package: "Tollgate"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Latency and throughput. Does not link the malloc interposer (it would replace malloc).
        .executableTarget(name: "tollgate-bench", dependencies: ["BenchKit"]),
        // Heap allocations per decision: the same workloads with ordo-one's malloc interposer,
        // started with LD_PRELOAD=libMallocInterposerSwift.so (run.sh does).
        .executableTarget(
            name: "tollgate-bench-allocs",
            dependencies: ["BenchKit", .product(name: "MallocInterposerSwift", package: "malloc-interposer")]
        ),
        // 10k keys against 1M keys and 10M counters.
        .executableTarget(name: "tollgate-scale", dependencies: ["BenchKit"]),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    settings.append(.treatAllWarnings(as: .error))
    target.swiftSettings = settings
}
