// swift-tools-version: 6.1
import PackageDescription

// Module map (dependencies point downwards):
//   stasis (CLI) ─► StasisStore ─► StasisChunking, StasisIO ─► CStasisSystem
//                               └► CLZ4 (Debian liblz4), GRDB (Debian libsqlite3), swift-crypto
//   stasis serve ─► StasisServer ─► StasisAPI (generated gRPC), StasisGraphStore, StasisRestore
//   stasis-bench ─► StasisSynthetic (benchmark/test image generator), StasisStore
let package = Package(
    name: "Stasis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stasis", targets: ["stasis"]),
        .library(name: "StasisStore", targets: ["StasisStore"]),
        .library(name: "StasisChunking", targets: ["StasisChunking"]),
        .library(name: "StasisSessions", targets: ["StasisSessions"]),
        .library(name: "StasisSynthetic", targets: ["StasisSynthetic"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        // The daemon's API: gRPC over HTTP/2 (Unix socket or TCP), protobuf messages.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // HTTP/2 frames, for the daemon's guard in front of each stream (oversized requests).
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        // S3-compatible object storage (StasisObjectStorage) over HTTP/1.1 and HTTP/2.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // The shared catalog of a fleet (StasisCatalog's PostgreSQL engine).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // The timeline's HTTP face (`stasis serve --http`): routes, JSON and static pages.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // C shims, each in its own target.
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(name: "CStasisSystem"),
        // SHA-256 through libcrypto (Debian libssl-dev) for the history verifier's hot loop.
        .target(name: "CSHA256", linkerSettings: [.linkedLibrary("crypto")]),
        // <linux/fuse.h> and mount(2) for StasisFUSE.
        .target(name: "CFUSE"),

        // Syscall wrappers: typed errno, EINTR retry, fault-injection seam.
        .target(name: "StasisIO", dependencies: ["CStasisSystem"]),

        // Pure chunking algorithms (fixed-size grid, FastCDC).
        .target(name: "StasisChunking"),

        // The content-addressed store: packs, manifests, catalog, capture, materialize, gc, verify.
        .target(
            name: "StasisStore",
            dependencies: [
                "StasisIO", "StasisChunking", "StasisCatalog", "StasisObjectStorage", "CLZ4", "CZstd",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // ext4 images read through e2fsprogs' libext2fs (Debian libext2fs-dev), never mounted.
        .target(
            name: "CExt2fs",
            linkerSettings: [.linkedLibrary("ext2fs"), .linkedLibrary("com_err")]
        ),
        .target(name: "StasisExt4", dependencies: ["CExt2fs"]),

        // Canonical JSON: one encoding per value, for hashes and signatures.
        .target(name: "StasisJSON"),

        // Sessions, checkpoints, the hash-chained history, replay, diff, bundles, retention.
        .target(
            name: "StasisSessions",
            dependencies: [
                "StasisStore", "StasisCatalog", "StasisJSON", "StasisIO", "StasisExt4", "CSHA256",
                .product(name: "Crypto", package: "swift-crypto"),
                // scrypt, for the passphrase of an encrypted bundle.
                .product(name: "CryptoExtras", package: "swift-crypto"),
                // On SQLite, the history verifier reads a million rows a second through GRDB's
                // handle and the raw C API (History/StoredEventScan.swift); all else goes
                // through StasisCatalog, on either engine.
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),

        // VMM drivers: QEMU microvm over QMP and the guest agent's console (KVM or TCG).
        .target(name: "StasisSandbox", dependencies: ["StasisIO", "StasisJSON"]),

        // Templates: root filesystems from OCI images or debootstrap, as ext4 images in the store.
        .target(
            name: "StasisTemplates",
            dependencies: ["StasisStore", "StasisCatalog", .product(name: "Crypto", package: "swift-crypto")]
        ),

        // The kernel's FUSE protocol over /dev/fuse, for one file served from user space.
        .target(name: "StasisFUSE", dependencies: ["CFUSE"]),

        // The restore planner and executor, and the sandbox lifecycle on top of sessions.
        .target(name: "StasisRestore", dependencies: ["StasisFUSE", "StasisSandbox", "StasisSessions", "StasisStore", "StasisTemplates", "StasisJSON", "StasisIO",
                                                     .product(name: "Crypto", package: "swift-crypto")]),

        // The daemon's protobuf messages and gRPC stubs, generated from Formats/proto/stasis.proto
        // by Tools/proto/generate.sh and committed (the plugins take minutes to build).
        .target(
            name: "StasisAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),

        // LangGraph checkpoints in the catalog: threads, checkpoints, pending writes, and channel
        // values cut into content-addressed chunks so that repeated state is stored once.
        .target(
            name: "StasisGraphStore",
            dependencies: [
                "StasisStore", "StasisCatalog", "StasisChunking", "StasisJSON", "CLZ4",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // `stasis serve`: the gRPC services over the library API, listeners, auth, lifecycle.
        .target(
            name: "StasisServer",
            dependencies: [
                "StasisAPI", "StasisGraphStore", "StasisSessions", "StasisRestore", "StasisSandbox", "StasisStore", "StasisJSON",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),

        // `stasis serve --http`: the timeline page and its JSON endpoints over the sessions library.
        .target(
            name: "StasisTimelineServer",
            dependencies: [
                "StasisSessions", "StasisStore", "StasisJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),

        // Write-once objects (packs, manifests) in a local directory or any S3-compatible service:
        // the ObjectStorage protocol, SigV4 signing, retries, multipart uploads, test fakes.
        .target(
            name: "StasisObjectStorage",
            dependencies: [
                "StasisIO",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // The catalog's two engines behind one protocol: SQLite (GRDB, the embedded default) and
        // PostgreSQL (postgres-nio, shared by a fleet); per-layer migrations for both.
        .target(
            name: "StasisCatalog",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),

        // Deterministic synthetic VM-memory images, shared by the benchmark and the tests.
        .target(name: "StasisSynthetic", dependencies: ["CLZ4"]),

        .executableTarget(
            name: "stasis",
            dependencies: [
                "StasisStore", "StasisSessions", "StasisJSON", "StasisSynthetic", "StasisSandbox", "StasisRestore",
                "StasisServer", "StasisGraphStore", "StasisTemplates", "StasisTimelineServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "stasis-bench",
            dependencies: [
                "StasisStore", "StasisSessions", "StasisCatalog", "StasisJSON", "StasisSynthetic", "StasisSandbox", "StasisRestore", "CLZ4",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/bench/StasisBench"
        ),

        .testTarget(name: "StasisIOTests", dependencies: ["StasisIO"]),
        .testTarget(name: "StasisFUSETests", dependencies: ["StasisFUSE", "CFUSE"]),
        .testTarget(
            name: "StasisObjectStorageTests",
            // Needs the services of Tools/services/start.sh (see Resources/README.md for the vectors).
            dependencies: [
                "StasisObjectStorage", "StasisIO", "StasisTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["Resources"]
        ),
        // What the test suites share: the test services' settings, temporary directories.
        .target(name: "StasisTestSupport", path: "Tests/StasisTestSupport", exclude: ["Resources"]),
        // Stores on the catalog engine a test run asks for (STASIS_TEST_CATALOG=postgres).
        .target(name: "StasisStoreTestSupport", dependencies: ["StasisStore", "StasisCatalog", "StasisTestSupport"],
                path: "Tests/StasisStoreTestSupport"),
        .testTarget(
            name: "StasisCatalogTests",
            // Runs every case on SQLite and on the PostgreSQL of Tools/services/start.sh.
            dependencies: ["StasisCatalog", "StasisTestSupport"]
        ),
        .testTarget(name: "StasisExt4Tests", dependencies: ["StasisExt4"]),
        .testTarget(name: "StasisTemplatesTests", dependencies: ["StasisTemplates", "StasisStore", "StasisStoreTestSupport"]),
        .testTarget(
            name: "StasisGraphStoreTests",
            dependencies: ["StasisStoreTestSupport", "StasisGraphStore", "StasisStore", "StasisJSON", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "StasisServerTests",
            // Runs the real daemon binary and talks gRPC to it over its socket.
            dependencies: ["StasisStoreTestSupport", 
                "stasis", "StasisAPI", "StasisServer",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
        .testTarget(
            name: "StasisSandboxTests",
            dependencies: ["StasisStoreTestSupport", "StasisCatalog", "StasisSandbox", "StasisRestore", "StasisSessions", "StasisStore", "StasisTemplates", "StasisJSON", "StasisIO", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "StasisTimelineServerTests",
            // Starts the HTTP face on a real loopback socket and talks to it with AsyncHTTPClient.
            dependencies: [
                "StasisStoreTestSupport", "StasisTimelineServer", "StasisSessions", "StasisStore", "StasisCatalog",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "StasisJSONTests",
            dependencies: ["StasisJSON", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "StasisSessionsTests",
            dependencies: ["StasisStoreTestSupport", 
                "StasisSessions", "StasisStore", "StasisCatalog", "StasisJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "StasisChunkingTests",
            dependencies: [
                "StasisChunking",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "StasisStoreTests",
            dependencies: [
                "StasisStore", "StasisSynthetic", "StasisStoreTestSupport", "StasisObjectStorage", "StasisTestSupport", "StasisCatalog",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "StasisCLITests",
            // Depends on the executable so that `swift test` builds the binary these tests run.
            dependencies: ["stasis", "StasisStore", "StasisIO", "StasisCatalog", "StasisStoreTestSupport", "StasisTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
