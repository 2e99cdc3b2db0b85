import ArgumentParser
import StasisStore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that every image in the store can be materialized.",
        discussion: """
            Checks every pack file against the catalog and every image manifest against its id \
            and the chunks it names. --deep also reads every chunk, decodes it and re-hashes it. \
            Exits 2 when it finds damage, naming each damaged pack or chunk and the images it \
            affects. It changes nothing.
            """)

    @OptionGroup var options: StoreOptions

    @Flag(name: .long, help: "Re-read and re-hash every chunk of every pack.")
    var deep = false

    func run() throws {
        var damaged = false
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let report = try options.open().verify(deep: deep, progress: options.progress)
            damaged = !report.ok
            if options.json { CommandOutput.json(report); return }
            CommandOutput.line("checked \(report.images) images, \(report.blobs) blobs, \(report.packs) packs" +
                (deep ? ", \(report.chunksChecked) chunks (\(ByteCount.format(report.bytesChecked)))" : ""))
            if report.leftoverFiles > 0 {
                CommandOutput.line("\(report.leftoverFiles) leftover file(s) of interrupted writes: `stasis gc` removes them")
            }
            if report.ok { CommandOutput.line("ok: no damage found"); return }
            for p in report.problems {
                CommandOutput.line("DAMAGED \(p.kind) \(p.subject): \(p.message)")
                if !p.affectedImages.isEmpty { CommandOutput.line("  affects images: \(p.affectedImages.joined(separator: ", "))") }
            }
        }
        if damaged { throw ExitCode(2) }
    }
}
