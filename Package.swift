// swift-tools-version:6.1
// PinMesh: a gossip-first, leaderless IPFS pinning cluster.
//
// Layers (dependencies point down only; see README.md "Layers"):
//   L0 values + system wrappers: Multiformats, ClusterModel, Sodium, LZ4 (over CSodium, CLZ4)
//   L1 pure cores (no NIO, no clock reads, no sleeps): UnixFS, SecureChannel, Gossip, Pinset, ...
//   L2 I/O adapters, L3 Node, L4 edges (RESTAPI, ClusterClient, executables)
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "PinMesh",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pinmesh", targets: ["pinmesh"]),
        .executable(name: "pinmeshctl", targets: ["pinmeshctl"]),
        .executable(name: "pinmesh-bench", targets: ["pinmesh-bench"]),
        .library(name: "Multiformats", targets: ["Multiformats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        // The trait exposes response trailers: kubo reports errors in a stream through X-Stream-Error.
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0", traits: ["UnstableHTTPAPIsSupport"]),
    ],
    targets: [
        // MARK: L0: system libraries and their safe wrappers
        .systemLibrary(
            name: "CSodium", pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(
            name: "CLZ4", pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CodedError", swiftSettings: swiftSettings),
        .target(name: "Sodium", dependencies: ["CSodium", "CodedError"], swiftSettings: swiftSettings),
        .target(name: "LZ4", dependencies: ["CLZ4", "CodedError"], swiftSettings: swiftSettings),

        // MARK: L0: values
        .target(
            name: "Multiformats",
            dependencies: ["Sodium", "CodedError", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        .target(name: "ClusterModel", dependencies: ["Multiformats"], swiftSettings: swiftSettings),

        // MARK: L1: pure cores (no NIO, no clock reads, no sleeps)
        .target(name: "UnixFS", dependencies: ["Multiformats", "CodedError"], swiftSettings: swiftSettings),
        .target(
            name: "SecureChannel",
            dependencies: ["Multiformats", "Sodium", "LZ4", "CodedError"],
            swiftSettings: swiftSettings),

        .target(
            name: "Gossip",
            dependencies: [
                "ClusterModel", "Multiformats", "Sodium", "CodedError",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),

        .target(
            name: "Pinset",
            dependencies: ["ClusterModel", "Multiformats", "UnixFS", "Sodium", "CodedError"],
            swiftSettings: swiftSettings),

        .target(
            name: "Libp2pCore",
            dependencies: [
                "Multiformats", "Sodium", "SecureChannel", "CodedError", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),
        .target(name: "Bitswap", dependencies: ["Multiformats", "CodedError"], swiftSettings: swiftSettings),
        .target(name: "DHT", dependencies: ["Multiformats"], swiftSettings: swiftSettings),

        .target(name: "Allocator", dependencies: ["Multiformats", "CodedError"], swiftSettings: swiftSettings),
        .target(name: "PeerMonitor", dependencies: ["ClusterModel", "Multiformats"], swiftSettings: swiftSettings),
        .target(name: "PinTracker", dependencies: ["ClusterModel", "Multiformats", "CodedError"], swiftSettings: swiftSettings),

        // MARK: L2: I/O adapters
        .target(
            name: "Datastore",
            dependencies: [
                "Pinset", "ClusterModel", "Multiformats", "CodedError", "Sodium",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings),
        .target(name: "Ingest", dependencies: ["UnixFS", "Multiformats"], swiftSettings: swiftSettings),
        .target(
            name: "Transport",
            dependencies: [
                "SecureChannel", "Multiformats", "Sodium", "CodedError", "ClusterModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        .target(
            name: "Libp2p",
            dependencies: [
                "Libp2pCore", "Bitswap", "DHT", "Multiformats", "Sodium", "CodedError",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        .target(
            name: "EmbeddedIPFS",
            dependencies: [
                "Datastore", "UnixFS", "Ingest", "Multiformats", "CodedError", "Sodium", "ClusterModel", "CZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "IPFSConnector",
            dependencies: [
                "Multiformats", "UnixFS", "CodedError",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        // MARK: L3: the node
        .target(
            name: "Node",
            dependencies: [
                "Gossip", "Transport", "SecureChannel", "Multiformats", "Sodium", "Pinset", "Datastore", "ClusterModel",
                "PeerMonitor", "Allocator", "PinTracker", "IPFSConnector", "EmbeddedIPFS", "UnixFS", "Libp2p", "Bitswap",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),

        // MARK: L4: edges
        .target(
            name: "RESTAPI",
            dependencies: [
                "Node", "ClusterModel", "Multiformats", "EmbeddedIPFS", "UnixFS", "Pinset", "Allocator", "CodedError",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        .target(
            name: "Gateway",
            dependencies: [
                "EmbeddedIPFS", "UnixFS", "Multiformats", "CodedError", "Datastore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "PinningService",
            dependencies: [
                "Node", "RESTAPI", "ClusterModel", "Multiformats", "CodedError", "Pinset",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "IPFSProxy",
            dependencies: [
                "Node", "ClusterModel", "Multiformats", "CodedError", "EmbeddedIPFS", "UnixFS", "Ingest", "IPFSConnector",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        .target(
            name: "ClusterClient",
            dependencies: [
                "ClusterModel", "Multiformats",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings),

        // MARK: L4: executables
        .executableTarget(
            name: "pinmesh",
            dependencies: [
                "ClusterModel", "Multiformats", "Sodium", "Pinset", "Datastore", "Node", "EmbeddedIPFS", "RESTAPI", "IPFSConnector", "Transport",
                "Gateway", "PinningService", "IPFSProxy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "pinmeshctl",
            dependencies: [
                "ClusterModel", "Multiformats", "UnixFS", "Ingest", "ClusterClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "pinmesh-bench",
            dependencies: [
                "ClusterModel", "Multiformats", "Sodium", "LZ4", "UnixFS", "Ingest", "SecureChannel", "Transport", "Gossip",
                "ClusterTestKit", "Node", "Pinset", "Datastore", "EmbeddedIPFS", "IPFSConnector", "RESTAPI", "ClusterClient",
                "Libp2pCore", "Libp2p", "Bitswap", "DHT", "PinningService", "Gateway",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),

        // MARK: test support
        .target(
            name: "ClusterTestKit",
            dependencies: [
                "ClusterModel", "Gossip", "Pinset", "Multiformats", "Sodium", "Node", "EmbeddedIPFS", "IPFSConnector", "UnixFS", "DHT",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),

        // MARK: tests
        .testTarget(name: "SodiumTests", dependencies: ["Sodium", "ClusterTestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "LZ4Tests", dependencies: ["LZ4", "ClusterTestKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "MultiformatsTests", dependencies: ["Multiformats", "Sodium", "ClusterTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "UnixFSTests", dependencies: ["UnixFS", "Multiformats", "ClusterTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SecureChannelTests", dependencies: ["SecureChannel", "Sodium", "Multiformats", "ClusterTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TransportTests",
            dependencies: [
                "Transport", "SecureChannel", "Sodium", "Multiformats", "ClusterTestKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "IngestTests",
            dependencies: [
                "Ingest", "UnixFS", "ClusterTestKit", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GossipTests", dependencies: ["Gossip", "ClusterTestKit", "ClusterModel", "Multiformats", "Sodium"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "NodeTests",
            dependencies: [
                "Node", "Pinset", "Datastore", "ClusterModel", "Gossip", "Transport", "SecureChannel", "Sodium", "Multiformats", "ClusterTestKit",
                "PeerMonitor", "EmbeddedIPFS", "UnixFS", "Libp2p",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PinsetTests",
            dependencies: ["Pinset", "Datastore", "ClusterModel", "ClusterTestKit", "Multiformats", "Sodium", "UnixFS", "CodedError"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EmbeddedIPFSTests",
            dependencies: [
                "EmbeddedIPFS", "IPFSConnector", "Datastore", "UnixFS", "Multiformats", "ClusterTestKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "Libp2pCoreTests", dependencies: ["Libp2pCore", "Multiformats", "Sodium", "ClusterTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BitswapTests", dependencies: ["Bitswap", "Multiformats", "ClusterTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DHTTests", dependencies: ["DHT", "Multiformats", "ClusterModel", "ClusterTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "Libp2pTests",
            dependencies: [
                "Libp2p", "Libp2pCore", "Bitswap", "DHT", "Multiformats", "Sodium", "ClusterTestKit", "UnixFS", "ClusterModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PeerMonitorTests", dependencies: ["PeerMonitor", "ClusterModel", "Multiformats", "Sodium"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "RESTAPITests",
            dependencies: [
                "RESTAPI", "ClusterClient", "ClusterModel", "ClusterTestKit", "Multiformats", "Node", "UnixFS", "Ingest",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "EmbeddedIPFS", "Datastore", "UnixFS", "Multiformats", "ClusterTestKit", "Node",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PinningServiceTests",
            dependencies: [
                "PinningService", "RESTAPI", "Node", "ClusterModel", "ClusterTestKit", "Multiformats", "ClusterClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "IPFSProxyTests",
            dependencies: [
                "IPFSProxy", "Node", "EmbeddedIPFS", "IPFSConnector", "ClusterModel", "ClusterTestKit", "Multiformats", "UnixFS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PinTrackerTests", dependencies: ["PinTracker", "ClusterModel", "Multiformats", "Sodium"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "AllocatorTests", dependencies: ["Allocator", "Multiformats", "Sodium"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CLITests", dependencies: ["ClusterModel", "ClusterTestKit", "Datastore", "Node"], swiftSettings: swiftSettings),
    ]
)

// Micro-benchmarks (ordo-one/benchmark) are built only when asked, so users and CI never
// resolve or build the benchmark package:  PINMESH_BENCHMARKS=1 swift package benchmark
if Context.environment["PINMESH_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "IngestBenchmarks",
            dependencies: [
                "UnixFS", "Multiformats",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/IngestBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
}
