import ArgumentParser
import Foundation
import StasisSessions

struct SessionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract: "Create, list, show and remove sessions; set their retention.",
        discussion: "A session is a long-lived sandbox plus everything that happened in it: its checkpoints and its history.",
        subcommands: [SessionNewCommand.self, SessionListCommand.self, SessionShowCommand.self,
                      SessionRemoveCommand.self, SessionRetentionCommand.self])
}

struct SessionNewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "new", abstract: "Create a session and print its id.")
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: ArgumentHelp("A label NAME=VALUE (repeatable).", valueName: "NAME=VALUE"))
    var label: [String] = []

    func run() throws {
        let labels = try CommandOutput.pairs(label, option: "--label")
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let s = try options.openSessions().createSession(labels: labels)
            if options.json { CommandOutput.json(s) } else { CommandOutput.line(s.id) }
        }
    }
}

struct SessionListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List sessions.")
    @OptionGroup var options: StoreOptions
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let all = try options.openSessions().sessions()
            if options.json { CommandOutput.json(all); return }
            if all.isEmpty { CommandOutput.line("no sessions"); return }
            CommandOutput.line("ID            EVENTS    CHECKPOINTS  CREATED               LABELS")
            let f = ISO8601DateFormatter()
            for s in all {
                CommandOutput.line("\(s.id.prefix(12))  \(String(s.historySize).padding(toLength: 8, withPad: " ", startingAt: 0))  \(String(s.checkpoints).padding(toLength: 11, withPad: " ", startingAt: 0))  \(f.string(from: s.createdAt))  \(s.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))")
            }
        }
    }
}

struct SessionShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a session and its checkpoints.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let store = try options.openSessions()
            let s = try store.session(session)
            let checkpoints = try store.checkpoints(s.id)
            let head = try store.treeHead(s.id)
            if options.json {
                struct Show: Encodable { var session: SessionRecord; var treeHead: String; var checkpoints: [CheckpointSummary] }
                CommandOutput.json(Show(session: s, treeHead: head.root, checkpoints: checkpoints.map(CheckpointSummary.init)))
                return
            }
            CommandOutput.line("""
                id:          \(s.id)
                created:     \(ISO8601DateFormatter().string(from: s.createdAt))
                labels:      \(s.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
                history:     \(s.historySize) events, tree head \(head.root)
                retention:   \(s.retention.map { p in [p.keepLast.map { "last \($0)" }, p.keepHourly.map { "hourly \($0)" }, p.keepDaily.map { "daily \($0)" }].compactMap { $0 }.joined(separator: ", ") } ?? "none")
                checkpoints: \(checkpoints.count)
                """)
            for c in checkpoints {
                CommandOutput.line("  \(c.id.prefix(12))  parent \(c.record.parent.map { String($0.prefix(12)) } ?? "-           ")  at event \(c.record.historySize)  \(c.record.images.keys.sorted().joined(separator: ",")) \(c.record.blobs.keys.sorted().joined(separator: ","))")
            }
        }
    }
}

struct SessionRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove a session, its history and its checkpoints.",
        discussion: "Checkpoints of other sessions built on this session's are kept (the command fails) unless --cascade. Chunks go at the next `stasis gc`.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    @Flag(name: .long, help: "Also remove checkpoints of other sessions built on this session's.") var cascade = false
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let store = try options.openSessions()
            let id = try store.resolveSession(session)
            let removed = try store.removeSession(id, cascade: cascade)
            if options.json { CommandOutput.json(["session": id, "removedCheckpoints": removed.joined(separator: ",")]) } else {
                CommandOutput.line("removed session \(id) and \(removed.count) checkpoint(s)")
            }
        }
    }
}

struct SessionRetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention", abstract: "Set the checkpoint retention policy that `stasis prune` applies.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: "Keep the newest N checkpoints.") var keepLast: Int?
    @Option(name: .long, help: "Keep the newest checkpoint of each of the last N hours that have one.") var keepHourly: Int?
    @Option(name: .long, help: "Keep the newest checkpoint of each of the last N days that have one.") var keepDaily: Int?
    @Flag(name: .long, help: "Remove the policy.") var clear = false

    func validate() throws {
        if clear == (keepLast != nil || keepHourly != nil || keepDaily != nil) {
            throw ValidationError("give --keep-last/--keep-hourly/--keep-daily, or --clear")
        }
        for v in [keepLast, keepHourly, keepDaily].compactMap({ $0 }) where v < 0 { throw ValidationError("--keep-* values must be 0 or more") }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let policy = RetentionPolicy(keepLast: keepLast, keepHourly: keepHourly, keepDaily: keepDaily)
            try options.openSessions().setRetention(session, policy)
            if options.json { CommandOutput.json(policy) } else { CommandOutput.line(clear ? "retention cleared" : "retention set") }
        }
    }
}

/// The JSON shape of a checkpoint in listings.
struct CheckpointSummary: Encodable {
    var id: String
    var session: String
    var parent: String?
    var created: Date
    var historySize: Int64
    var historyRoot: String
    var images: [String: String]
    var blobs: [String: String]
    var labels: [String: String]
    var signature: String

    init(_ c: Checkpoint) {
        id = c.id; session = c.record.session; parent = c.record.parent; created = c.createdAt
        historySize = c.record.historySize; historyRoot = c.record.historyRoot
        images = c.record.images; blobs = c.record.blobs; labels = c.record.labels
        signature = c.signature.map { String(format: "%02x", $0) }.joined()
    }
}
