// swift-tools-version: 6.1
import PackageDescription

// The package-benchmark suite of RelQ's client-side costs (see README.md).
// A separate package, so RelQ itself does not depend on package-benchmark.
let package = Package(
    name: "relq-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "relq", path: "../"),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "RelQBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "RelQ", package: "relq"),
                .product(name: "RelQTesting", package: "relq"),
            ],
            path: "Benchmarks/RelQBenchmarks",
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("InternalImportsByDefault"),
            ],
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "package-benchmark")
            ]
        )
    ]
)
