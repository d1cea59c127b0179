// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "Tollgate",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Tollgate", targets: ["Tollgate"]),
        .library(name: "TollgateTestSupport", targets: ["TollgateTestSupport"]),
        // For the benchmarks package (Benchmarks/), whose LMDB floor uses the storage layer directly.
        .library(name: "TollgateLMDB", targets: ["TollgateLMDB"]),
        .executable(name: "tollgate", targets: ["tollgate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
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
            ]
        ),
        .target(name: "TollgateTestSupport", dependencies: ["Tollgate"]),
        .executableTarget(
            name: "tollgate",
            dependencies: [
                "Tollgate",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "TollgateLMDBTests", dependencies: ["TollgateLMDB"]),
        .testTarget(
            name: "TollgateTests",
            dependencies: ["Tollgate", "TollgateTestSupport", "TollgateLMDB"],
            exclude: ["CLI/Golden"]
        ),
        .testTarget(name: "TollgateTestSupportTests", dependencies: ["TollgateTestSupport"]),
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
