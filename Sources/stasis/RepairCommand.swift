import ArgumentParser
import StasisStore

struct RepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Rebuild catalog indexes from the pack files.",
        discussion: """
            --reindex rebuilds the chunk index from the packs alone (each pack carries its own \
            entry table): use it after copying packs in from another store or a backup. Packs \
            that do not read as packs are moved to packs/quarantine/, not deleted.
            """)

    @OptionGroup var options: StoreOptions

    @Flag(name: .long, help: "Rebuild the pack list and chunk index from the pack files.")
    var reindex = false

    func validate() throws {
        if !reindex { throw ValidationError("say what to repair: --reindex") }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let r = try options.open().reindex()
            if options.json { CommandOutput.json(r); return }
            CommandOutput.line("indexed \(r.packsIndexed) packs, \(r.chunksIndexed) chunks")
            if !r.packsQuarantined.isEmpty { CommandOutput.line("quarantined (unreadable): \(r.packsQuarantined.joined(separator: ", "))") }
            if !r.packsMissing.isEmpty { CommandOutput.line("dropped (file missing): \(r.packsMissing.joined(separator: ", "))") }
            if !r.imagesMissingChunks.isEmpty {
                CommandOutput.line("images still missing chunks: \(r.imagesMissingChunks.joined(separator: ", "))")
            }
        }
    }
}
