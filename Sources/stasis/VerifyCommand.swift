import ArgumentParser
import StasisGraphStore
import StasisSessions
import StasisStore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that every image in the store can be materialized.",
        discussion: """
            Checks every pack file against the catalog; every image manifest against its id, its \
            catalog row and the chunks it names; every blob manifest against its catalog row and \
            the chunks it names; the store key; every checkpoint (its record hashes to its id, its \
            signature verifies, its catalog row and references agree with it, its images and blobs \
            exist with the sizes their manifests give); no reference or history without its \
            checkpoint or session. --deep also reads every chunk, decodes it and re-hashes it, \
            reassembles every blob against its id, re-verifies every session's history, and \
            reassembles every LangGraph value (`stasis serve`) from its chunks. Exits 2 when it \
            finds damage, naming each damaged object and the images and blobs it affects. It \
            changes nothing.
            """)

    @OptionGroup var options: StoreOptions

    @Flag(name: .long, help: "Re-read and re-hash every chunk of every pack.")
    var deep = false

    func run() throws {
        var damaged = false
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let store = try options.open()
            var report = try store.verify(deep: deep, progress: options.progress)
            // Sessions: the store key, every checkpoint (record, signature, row, references,
            // images, blobs), orphans; --deep: every session's history.
            do throws(HistoryError) {
                let sessions = try SessionStore(store: store).verifyCatalog(histories: deep)
                report.checkpoints = sessions.checkpoints
                report.histories = sessions.histories
                report.problems += sessions.problems
            } catch {
                report.problems.append(.init(kind: "sessions", subject: store.layout.catalogPath, message: error.description))
            }
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
            CommandOutput.line("checked \(report.images) images, \(report.blobs) blobs, \(report.packs) packs, \(report.checkpoints) checkpoints" +
                (deep ? ", \(report.chunksChecked) chunks (\(ByteCount.format(report.bytesChecked))), \(report.histories) histories, \(report.graphValues) LangGraph values" : ""))
            if report.leftoverFiles > 0 {
                CommandOutput.line("\(report.leftoverFiles) leftover file(s) of interrupted writes: `stasis gc` removes them")
            }
            if report.ok { CommandOutput.line("ok: no damage found"); return }
            for p in report.problems {
                CommandOutput.line("DAMAGED \(p.kind) \(p.subject): \(p.message)")
                if !p.affectedImages.isEmpty { CommandOutput.line("  affects images: \(p.affectedImages.joined(separator: ", "))") }
                if !p.affectedBlobs.isEmpty { CommandOutput.line("  affects blobs: \(p.affectedBlobs.joined(separator: ", "))") }
            }
        }
        if damaged { throw ExitCode(2) }
    }
}
