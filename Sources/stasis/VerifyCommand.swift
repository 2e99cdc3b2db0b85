import ArgumentParser
import StasisGraphStore
import StasisStore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that every image in the store can be materialized.",
        discussion: """
            Checks every pack file against the catalog and every image manifest against its id \
            and the chunks it names. --deep also reads every chunk, decodes it and re-hashes it, \
            and reassembles every LangGraph value (`stasis serve`) from its chunks. \
            Exits 2 when it finds damage, naming each damaged pack or chunk and the images it \
            affects. It changes nothing.
            """)

    @OptionGroup var options: StoreOptions

    @Flag(name: .long, help: "Re-read and re-hash every chunk of every pack.")
    var deep = false

    func run() throws {
        var damaged = false
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let store = try options.open()
            var report = try store.verify(deep: deep, progress: options.progress)
            if deep {
                do {
                    let graph = try GraphStore(store: store).verify()
                    report.graphValues = graph.values
                    report.problems += graph.problems.map { .init(kind: "graph-value", subject: $0.subject, message: $0.message) }
                } catch {
                    report.problems.append(.init(kind: "graph", subject: store.layout.catalogPath, message: "\(error)"))
                }
            }
            damaged = !report.ok
            if options.json { CommandOutput.json(report); return }
            CommandOutput.line("checked \(report.images) images, \(report.blobs) blobs, \(report.packs) packs" +
                (deep ? ", \(report.chunksChecked) chunks (\(ByteCount.format(report.bytesChecked))), \(report.graphValues) LangGraph values" : ""))
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
