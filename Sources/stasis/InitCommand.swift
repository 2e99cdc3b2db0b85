import ArgumentParser
import StasisStore

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new, empty store.",
        discussion: """
            Creates the store directory with its catalog (SQLite, WAL mode), pack folder and lock. \
            The chunk size is fixed for the life of the store: 4 KiB (the default) matches guest \
            page size, so an incremental capture stores only the pages that changed and zero pages \
            cost nothing.
            """)

    @OptionGroup var options: StoreOptions

    @Option(name: .long, help: ArgumentHelp("Chunk size for block images: a power of two from 4K to 2M.", valueName: "SIZE"))
    var chunkSize: String = "4K"

    func validate() throws {
        guard let size = ByteCount.parse(chunkSize), ContentStore.allowedChunkSizes.contains(size) else {
            throw ValidationError("--chunk-size '\(chunkSize)' must be a power of two from 4K to 2M (for example 4K, 64K, 1M)")
        }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let store = try ContentStore.create(at: options.storePath, chunkSize: ByteCount.parse(chunkSize)!)
            if options.json {
                CommandOutput.json(["store": store.layout.root, "chunkSize": String(store.chunkSize)])
            } else {
                CommandOutput.line("created store \(store.layout.root) (chunk size \(ByteCount.format(Int64(store.chunkSize))))")
            }
        }
    }
}
