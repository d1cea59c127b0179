// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "Tollgate",
    // Linux only, so no `platforms`: the code imports Glibc and uses glibc's writer-preferring
    // rwlock (`pthread_rwlockattr_setkind_np`); README, Requirements.
    products: [
        .library(name: "Tollgate", targets: ["Tollgate"]),
        .library(name: "TollgateTestSupport", targets: ["TollgateTestSupport"]),
        .library(name: "TollgateHTTP", targets: ["TollgateHTTP"]),
        .library(name: "TollgateHummingbird", targets: ["TollgateHummingbird"]),
        // The backend conformance suite, for a backend's tests in this or another package.
        .library(name: "TollgateConformance", targets: ["TollgateConformance"]),
        // For the benchmarks package (Benchmarks/), whose LMDB floor uses the storage layer directly.
        .library(name: "TollgateLMDB", targets: ["TollgateLMDB"]),
        .executable(name: "tollgate", targets: ["tollgate"]),
        .executable(name: "tollgate-demo", targets: ["TollgateDemo"]),
        .executable(name: "tollgate-stress", targets: ["TollgateStress"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // Without its default traits (swift-configuration support, full Foundation): not needed here.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // The C library comes from the system (Debian: liblmdb-dev). Only TollgateLMDB imports it.
        .systemLibrary(
            name: "CTollgateLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(name: "TollgateLMDB", dependencies: ["CTollgateLMDB"]),
        .target(
            name: "Tollgate",
            dependencies: [
                "TollgateLMDB",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // What every HTTP integration shares (key extraction, client address, problem bodies,
        // RateLimit headers), with no HTTP framework: the core knows nothing of HTTP.
        .target(name: "TollgateHTTP", dependencies: ["Tollgate"]),
        // The Hummingbird 2 integration: the core never depends on Hummingbird.
        .target(
            name: "TollgateHummingbird",
            dependencies: [
                "Tollgate",
                "TollgateHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The README's main job: a sample API on an embedded store.
        .executableTarget(
            name: "TollgateDemo",
            dependencies: [
                "Tollgate",
                "TollgateHTTP",
                "TollgateHummingbird",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "TollgateTestSupport", dependencies: ["Tollgate"]),
        // Cases every backend must pass, parameterised over backends; no `import Testing`, so a
        // backend's own test target can run them (Docs/architecture.md, "The conformance suite").
        .target(name: "TollgateConformance", dependencies: ["Tollgate", "TollgateTestSupport"]),
        .executableTarget(
            name: "tollgate",
            dependencies: [
                "Tollgate",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The crash suite's workload (Tests/TollgateTests/Crash kills it with SIGKILL): not an
        // admin command, so not in the CLI.
        .executableTarget(
            name: "TollgateStress",
            dependencies: [
                "Tollgate",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "TollgateLMDBTests", dependencies: ["TollgateLMDB"]),
        .testTarget(
            name: "TollgateTests",
            dependencies: ["Tollgate", "TollgateTestSupport", "TollgateLMDB", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["CLI/Golden", "Records/Golden"]
        ),
        .testTarget(name: "TollgateTestSupportTests", dependencies: ["TollgateTestSupport"]),
        .testTarget(name: "TollgateConformanceTests", dependencies: ["TollgateConformance"]),
        .testTarget(name: "TollgateHTTPTests", dependencies: ["Tollgate", "TollgateHTTP"]),
        .testTarget(
            name: "TollgateHummingbirdTests",
            dependencies: [
                "Tollgate",
                "TollgateLMDB",
                "TollgateHTTP",
                "TollgateHummingbird",
                "TollgateTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
    ]
)

// Strict settings for every target of ours: Swift 6 mode, explicit `any`, and no warnings.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    settings.append(.treatAllWarnings(as: .error))
    target.swiftSettings = settings
}
