import ArgumentParser
import Foundation
import StasisJSON
import StasisSessions

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Append to, show, verify, prove and export a session's tamper-evident history.",
        subcommands: [HistoryAppendCommand.self, HistoryShowCommand.self, HistoryVerifyCommand.self,
                      HistoryProveCommand.self, HistoryNoteCommand.self, HistoryExportCommand.self,
                      HistorySearchCommand.self])
}

struct HistoryAppendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append events, one JSON object per line on standard input.",
        discussion: """
            Each line: {"kind": KIND, "time": optional RFC 3339 or nanoseconds, …fields}. Kinds and \
            their required fields: command.started (command), output (stream: stdout|stderr, data), \
            command.exited (code), file.written (path), tool.call (name), tool.result (name), \
            message (role, content), checkpoint (checkpoint), restore (checkpoint), note (text). \
            Every line is checked before anything is written: one bad line appends nothing. \
            Lines must be UTF-8; checkpoint and restore events must name an existing checkpoint \
            of the session (Stasis writes its own).
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String

    func run() throws {
        let input = FileHandle.standardInput.readDataToEndOfFile()
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            var events: [EventInput] = []
            var lines: [Int] = []          // the input line of each event
            var line = 0
            for raw in input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                line += 1
                if raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                events.append(try EventInput.parse(utf8: raw, line: line))
                lines.append(line)
            }
            let range: Range<Int64>
            do throws(HistoryError) { range = try options.openSessions().append(session, events) } catch {
                // The library numbers events from 1; name the input line instead.
                if case .badEvent(let n, let message) = error, n >= 1, n <= lines.count { throw .badEvent(line: lines[n - 1], message: message) }
                throw error
            }
            if options.json { CommandOutput.json(["first": range.lowerBound, "count": Int64(range.count)]) } else {
                CommandOutput.line(range.isEmpty ? "appended nothing" : "appended \(range.count) event\(range.count == 1 ? "" : "s") (\(range.lowerBound)…\(range.upperBound - 1))")
            }
        }
    }
}

struct HistoryShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a session's events.",
        discussion: "--since and --until take positions (42), RFC 3339 times (2026-12-07T13:00:00Z, 2026-12-07T14:00:00.5+01:00) or durations before now (90s, 10m, 2h, 1d, 1w); both ends are inclusive.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: ArgumentHelp("From this position, time or duration ago: \(EventBound.help).", valueName: "WHEN")) var since: String?
    @Option(name: .long, help: ArgumentHelp("Up to this position or time (inclusive), in the same forms.", valueName: "WHEN")) var until: String?
    @Option(name: .long, help: ArgumentHelp("Only events of this kind (repeatable).", valueName: "KIND")) var kind: [String] = []
    @Option(name: .long, help: "Only the last N events.") var last: Int?

    func validate() throws {
        for k in kind where EventKind(rawValue: k) == nil {
            throw ValidationError("--kind '\(k)' is not one of \(EventKind.accepted)")
        }
        if let last, last < 0 { throw ValidationError("--last must be 0 or more") }
        for (name, value) in [("--since", since), ("--until", until)] {
            if let value, EventBound.parse(value) == nil { throw ValidationError("\(name) '\(value)' is not \(EventBound.help)") }
        }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let store = try options.openSessions()
            var query = EventQuery(kinds: kind.isEmpty ? nil : Set(kind.compactMap(EventKind.init(rawValue:))), last: last)
            query.bound(from: since.flatMap { EventBound.parse($0) }, to: until.flatMap { EventBound.parse($0) })
            let events = try store.events(session, query)
            if options.json {
                for e in events {
                    let line: JSONValue = ["seq": .int(e.seq), "time": .int(e.time), "kind": .string(e.kind.rawValue), "data": .object(e.data)]
                    CommandOutput.line(line.canonicalString)
                }
                return
            }
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            for e in events {
                CommandOutput.line("\(String(e.seq).padding(toLength: 6, withPad: " ", startingAt: 0)) \(f.string(from: e.date))  \(Self.column(e.kind.rawValue, 15)) \(EventText.summary(e))")
            }
        }
    }
}

struct HistoryVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a session's history for edited, dropped, reordered or inserted events.",
        discussion: "Recomputes every leaf and chain hash and every checkpoint's signed tree head. Exits 2 naming the first bad position when the history is not what was written.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    func run() throws {
        var bad = false
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let r = try options.openSessions().verifyHistory(session)
            bad = !r.ok
            if options.json { CommandOutput.json(r); return }
            if r.ok {
                CommandOutput.line("ok: \(r.events) events and \(r.checkpointsChecked) checkpoint tree heads check out")
            } else {
                if let seq = r.firstBadSeq { CommandOutput.line("TAMPERED: first bad event is \(seq)") } else { CommandOutput.line("TAMPERED") }
                for p in r.problems { CommandOutput.line("  \(p)") }
            }
        }
        if bad { throw ExitCode(2) }
    }
}

struct HistoryNoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note",
        abstract: "Print the history's tree head as a C2SP signed note (tlog-checkpoint), signed by the store key.",
        discussion: """
            The note (origin `stasis-session/SESSION`, size, base64 root, an Ed25519 signature line) \
            is what transparency-log tools check; with --json also the verifier key \
            (NAME+KEYID+BASE64) to pin. --checkpoint signs that checkpoint's tree head, after it \
            checks out; without it, the current head.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: ArgumentHelp("Checkpoint whose tree head to sign.", valueName: "CHECKPOINT")) var checkpoint: String?
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let note = try options.openSessions().signedNote(session, checkpoint: checkpoint)
            if options.json { CommandOutput.json(note) } else { FileHandle.standardOutput.write(Data(note.text.utf8)) }
        }
    }
}

struct HistoryProveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prove",
        abstract: "Print an inclusion proof of one event against a signed tree head.",
        discussion: "The proof (RFC 6962 audit path) is against the tree head of --checkpoint, or of the latest checkpoint that contains the event, or the current head when none does. It is O(log n) hashes.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    @Argument(help: ArgumentHelp("Event position.", valueName: "SEQ")) var seq: Int64
    @Option(name: .long, help: ArgumentHelp("Checkpoint whose signed tree head to prove against.", valueName: "CHECKPOINT")) var checkpoint: String?
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let p = try options.openSessions().prove(session, seq: seq, checkpoint: checkpoint)
            if options.json { CommandOutput.json(p); return }
            CommandOutput.line("""
                event \(p.seq) of session \(p.session), in a tree of \(p.treeSize) events
                leaf:       \(p.leaf)
                root:       \(p.root)\(p.checkpoint.map { "\ncheckpoint: \($0) (signature \(p.signature ?? "-"))" } ?? " (current head, not signed)")
                path (\(p.path.count) hashes):
                """)
            for h in p.path { CommandOutput.line("  \(h)") }
            CommandOutput.line(p.verified ? "verified" : "NOT VERIFIED")
        }
    }
}

extension HistoryShowCommand {
    /// `text` padded to `width`; a longer text (a namespaced kind) whole, then one space.
    static func column(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}
