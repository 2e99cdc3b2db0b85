import ArgumentParser
import Foundation
import StasisCatalog
import StasisStore

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new, empty store, or add this host to a fleet store.",
        discussion: """
            Without --catalog: a store for this host — its catalog (SQLite, WAL mode), packs and \
            key in the store directory.

            With --catalog postgres://USER@HOST:PORT/DB[?schema=NAME] and --objects \
            s3://BUCKET/PREFIX: a fleet store, shared by every host that names the same two. The \
            catalog lives in PostgreSQL, packs and manifests in the bucket; the store directory \
            keeps this host's descriptor (store.json: endpoints only, never a password), the \
            signing key and a cache of the objects it used. Credentials come from the environment \
            each time: PGPASSWORD (or the URL), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
            AWS_REGION, AWS_ENDPOINT_URL (for a service other than AWS, e.g. SeaweedFS or MinIO).

            The first host creates the fleet store. Every other host joins it with --key, a copy \
            of the first host's keys/store.ed25519, so that what any host signs verifies on all:

              stasis init --store /var/lib/stasis --catalog postgres://stasis@db/stasis \\
                  --objects s3://stasis/fleet --key /secure/store.ed25519

            Packs and manifests are encrypted (AES-256-GCM) unless --no-encryption is given. The \
            data keys are wrapped by a master key: $STASIS_MASTER_KEY (64 hex digits) when set, \
            else a new keys/master.key (mode 0600). Keep a copy of it: without it nothing in the \
            store can be read. Hosts joining a fleet store bring it with --master-key (default: \
            master.key beside the --key file). `stasis key` shows, exports and rotates it.

            The chunk size is fixed for the life of the store: 4 KiB (the default) matches guest \
            page size, so an incremental capture stores only the pages that changed and zero pages \
            cost nothing.

            New data is compressed with zstd at level 1 (the default: about a fifth less stored \
            than LZ4 on real guest memory, for about 10% more capture time) or, with \
            --compression lz4, LZ4 (the least CPU). zstd:LEVEL trades more CPU for less storage.
            """)

    @OptionGroup var options: StoreOptions

    @Option(name: .long, help: ArgumentHelp("Chunk size for block images: a power of two from 4K to 2M.", valueName: "SIZE"))
    var chunkSize: String = "4K"

    @Option(name: .long, help: ArgumentHelp("A shared catalog in PostgreSQL (a fleet store); PG* variables fill what the URL leaves out.", valueName: "URL"))
    var catalog: String?

    @Option(name: .long, help: ArgumentHelp("Where a fleet store's objects live: s3://BUCKET/PREFIX, or file:///SHARED/DIRECTORY.", valueName: "URL"))
    var objects: String?

    @Option(name: .long, help: ArgumentHelp("The S3 endpoint when it is not AWS (default: $AWS_ENDPOINT_URL); kept in the descriptor.", valueName: "URL"))
    var objectsEndpoint: String?

    @Option(name: .long, help: ArgumentHelp("The S3 region (default: $AWS_REGION, else us-east-1); kept in the descriptor.", valueName: "REGION"))
    var objectsRegion: String?

    @Option(name: .long, help: ArgumentHelp("Join the existing fleet store with this copy of its signing key.", valueName: "FILE"))
    var key: String?

    @Option(name: .long, help: ArgumentHelp("Joining an encrypted fleet store: a copy of its master key (default: master.key beside --key, else $STASIS_MASTER_KEY).", valueName: "FILE"))
    var masterKey: String?

    @Flag(name: .long, help: "Store packs and manifests unencrypted (the default is AES-256-GCM at rest).")
    var noEncryption = false

    @Option(name: .long, help: ArgumentHelp("What new data is compressed with: zstd (default, level 1), zstd:LEVEL (1-19), or lz4 (least CPU).", valueName: "CODEC"))
    var compression: String?

    func validate() throws {
        guard let size = ByteCount.parse(chunkSize), ContentStore.allowedChunkSizes.contains(size) else {
            throw ValidationError("--chunk-size '\(chunkSize)' must be a power of two from 4K to 2M (for example 4K, 64K, 1M)")
        }
        if (catalog == nil) != (objects == nil) {
            throw ValidationError("a fleet store needs both --catalog postgres://… and --objects s3://…; give neither for a store on this host")
        }
        if catalog == nil, key != nil || objectsEndpoint != nil || objectsRegion != nil {
            throw ValidationError("--key, --objects-endpoint and --objects-region belong to a fleet store: give --catalog and --objects too")
        }
        if masterKey != nil && key == nil {
            throw ValidationError("--master-key is for joining a fleet store: give --key too (a new store makes its own master key, or takes $STASIS_MASTER_KEY)")
        }
        if noEncryption && key != nil {
            throw ValidationError("--no-encryption is chosen when a store is created; a host joining a store follows the store")
        }
        if let compression {
            guard FrameCompression(compression) != nil else {
                throw ValidationError("--compression '\(compression)' must be lz4, zstd or zstd:LEVEL with LEVEL from 1 to 19")
            }
            if key != nil { throw ValidationError("--compression is chosen when a store is created; a host joining a store follows the store") }
        }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let environment = ProcessInfo.processInfo.environment
            let backends = try backends(environment)
            let store: ContentStore
            if let key {
                store = try ContentStore.join(at: options.storePath, backends: backends, keyFile: key, masterKeyFile: masterKey, environment: environment)
            } else {
                store = try ContentStore.create(at: options.storePath, chunkSize: ByteCount.parse(chunkSize)!, backends: backends,
                                                encrypted: !noEncryption, compression: compression.flatMap(FrameCompression.init) ?? .default,
                                                environment: environment)
            }
            let verb = key == nil ? "created" : "joined"
            if options.json {
                var fields = ["store": store.layout.root, "chunkSize": String(store.chunkSize), "catalog": store.catalog.location,
                              "objects": store.objectsLocation, "action": verb, "encrypted": String(store.isEncrypted),
                              "compression": store.compression.description]
                if store.descriptor != nil { fields["descriptor"] = store.layout.descriptorPath }
                CommandOutput.json(fields)
            } else if store.descriptor != nil {
                CommandOutput.line("\(verb) fleet store \(store.layout.root) (chunk size \(ByteCount.format(Int64(store.chunkSize))))")
                CommandOutput.line("  catalog  \(store.catalog.location)")
                CommandOutput.line("  objects  \(store.objectsLocation)")
                if key == nil { CommandOutput.line("  other hosts join with: stasis init --catalog … --objects … --key <a copy of \(store.layout.keyPath)> --master-key <a copy of keys/master.key>") }
            } else {
                CommandOutput.line("created store \(store.layout.root) (chunk size \(ByteCount.format(Int64(store.chunkSize))), compression \(store.compression))")
            }
            if !options.json {
                CommandOutput.line(store.isEncrypted
                    ? "  encrypted at rest (AES-256-GCM); keep a copy of its master key (`stasis key export --master`): without it nothing in the store can be read"
                    : "  not encrypted (--no-encryption)")
            }
        }
    }

    private func backends(_ environment: [String: String]) throws(StoreError) -> StoreBackends {
        guard let catalog, let objects else { return .embedded }
        let configuration: PostgresCatalogConfiguration
        do { configuration = try PostgresCatalogConfiguration.parse(catalog, environment: environment) } catch { throw .database(error) }
        return .shared(catalog: configuration, objects: objects, objectsEndpoint: objectsEndpoint, objectsRegion: objectsRegion)
    }
}
