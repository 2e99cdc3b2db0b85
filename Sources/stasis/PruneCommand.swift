import ArgumentParser
import StasisSessions

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove checkpoints that retention policies do not keep.",
        discussion: "Applies each session's policy (`stasis session retention`), or the --keep-* options to SESSION. Checkpoints that a kept one builds on are kept. Run `stasis gc` afterwards to reclaim space.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Only this session.", valueName: "SESSION")) var session: String?
    @Option(name: .long, help: "Keep the newest N checkpoints.") var keepLast: Int?
    @Option(name: .long, help: "Keep one per hour for the last N hours that have one.") var keepHourly: Int?
    @Option(name: .long, help: "Keep one per day for the last N days that have one.") var keepDaily: Int?
    @Flag(name: .long, help: "Report what would be removed; change nothing.") var dryRun = false

    func validate() throws {
        let given = keepLast != nil || keepHourly != nil || keepDaily != nil
        if given && session == nil { throw ValidationError("--keep-* options apply to one SESSION; name it") }
        for v in [keepLast, keepHourly, keepDaily].compactMap({ $0 }) where v < 0 { throw ValidationError("--keep-* values must be 0 or more") }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let given = keepLast != nil || keepHourly != nil || keepDaily != nil
            let policy = given ? RetentionPolicy(keepLast: keepLast, keepHourly: keepHourly, keepDaily: keepDaily) : nil
            let reports = try options.openSessions().prune(session, policy: policy, dryRun: dryRun)
            if options.json { CommandOutput.json(reports); return }
            for r in reports {
                CommandOutput.line("session \(r.session.prefix(12)): keep \(r.kept.count), \(dryRun ? "would remove" : "removed") \(r.removed.count)")
                for id in r.removed { CommandOutput.line("  \(dryRun ? "would remove" : "removed") \(id)") }
            }
        }
    }
}
