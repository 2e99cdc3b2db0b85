import ArgumentParser
import StasisStore

struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove chunks that no image references.",
        discussion: """
            Deletes packs with nothing referenced, rewrites packs that are mostly unreferenced \
            (their live chunks are verified and copied first), and removes what interrupted \
            captures left behind. Waits for captures in progress to finish; captures started \
            meanwhile wait for gc. Safe to interrupt: a crash leaves the store as before, plus \
            files the next gc removes.
            """)

    @OptionGroup var options: StoreOptions

    @Flag(name: .long, help: "Report what would be removed; change nothing.")
    var dryRun = false

    @Option(name: .long, help: "Rewrite packs whose live bytes are below this fraction (0 to 1).")
    var repackBelow: Double = 0.5

    func validate() throws {
        guard (0...1).contains(repackBelow) else { throw ValidationError("--repack-below must be between 0 and 1") }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let r = try options.open().gc(dryRun: dryRun, repackBelow: repackBelow, progress: options.progress)
            if options.json { CommandOutput.json(r); return }
            let verb = dryRun ? "would free" : "freed"
            CommandOutput.line("\(verb) \(ByteCount.format(r.bytesFreed)): \(r.chunksRemoved) unreferenced chunks; " +
                "\(r.packsDeleted.count) packs deleted, \(r.packsRepacked.count) rewritten into \(dryRun ? "new packs" : "\(r.packsWritten.count)"), " +
                "\(r.leftoverFilesRemoved.count) leftover files")
        }
    }
}
