import ArgumentParser
import Foundation
import StasisSessions

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a session in the terminal as it happened.",
        discussion: """
            Commands, their output, tool calls, messages, and checkpoints and restores as markers, \
            with the original timing scaled by --speed (pauses longer than --max-pause are cut). \
            --step waits for Enter before each command instead.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: ArgumentHelp("Start at this checkpoint's position.", valueName: "CHECKPOINT")) var from: String?
    @Option(name: .long, help: "Playback speed: 2 is twice as fast; 0 shows everything at once.") var speed: Double = 1
    @Option(name: .long, help: "Longest pause in seconds, before scaling.") var maxPause: Double = 3
    @Flag(name: .long, help: "Wait for Enter before each command.") var step = false
    @Flag(name: .long, help: "No colours.") var plain = false

    func validate() throws {
        if speed < 0 { throw ValidationError("--speed must be 0 or more") }
        if maxPause < 0 { throw ValidationError("--max-pause must be 0 or more") }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let renderer = ReplayRenderer(styled: !plain && !options.json && isatty(1) != 0, maxPause: maxPause)
            let frames = try options.openSessions().replayFrames(session, from: from, renderer: renderer)
            if options.json {
                struct Frame: Encodable { var seq: Int64; var kind: String; var offset: Double; var text: String }
                CommandOutput.json(frames.map { Frame(seq: $0.seq, kind: $0.kind.rawValue, offset: $0.offset, text: $0.text) })
                return
            }
            var shown = 0.0
            for frame in frames {
                if step && frame.kind == .commandStarted {
                    FileHandle.standardError.write(Data("[Enter for the next command] ".utf8))
                    _ = readLine()
                } else if speed > 0 && frame.offset > shown {
                    usleep(UInt32(min(60, (frame.offset - shown) / speed) * 1_000_000))
                }
                shown = frame.offset
                FileHandle.standardOutput.write(Data(frame.text.replacingOccurrences(of: "\r\n", with: "\n").utf8))
            }
        }
    }
}

struct HistoryExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a session's history: a self-verifying HTML timeline, an asciinema v2 recording, or JSON lines.",
        discussion: """
            `--format html -o FILE` writes one self-contained page (no network) that shows the session \
            on a time axis — commands, output, tool calls, messages, checkpoints, restores, forks — and \
            verifies it in the browser: every leaf and chain hash, the Merkle roots and the Ed25519 \
            signatures, against a key you pin (paste `stasis key show`, or open FILE#key=KEY). The \
            file is never overwritten. Formats/timeline.md describes it. \
            `--format asciicast` writes a recording that `asciinema play` and other asciicast v2 \
            players accept; `--format jsonl` writes one event per line as stored.
            """)
    enum Format: String, ExpressibleByArgument, CaseIterable { case html, asciicast, jsonl }
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: "html, asciicast or jsonl.") var format: Format
    @Option(name: .shortAndLong, help: ArgumentHelp("Output file (default: standard output; required for html).", valueName: "FILE")) var output: String?

    func validate() throws {
        if format == .html && output == nil { throw ValidationError("--format html needs -o FILE: the page is a file to open in a browser") }
    }

    func run() throws {
        if format == .html, let output {
            try CommandOutput.run(json: options.json) { () throws(HistoryError) in
                let r = try options.openSessions().exportTimeline(session, to: output)
                if options.json { CommandOutput.json(r); return }
                for id in r.missingBlobs { CommandOutput.warn("blob \(id) that an event names is not in this store; the page shows it as missing") }
                CommandOutput.line("wrote \(r.path): \(r.events) events, \(r.checkpoints) checkpoints, \(r.blobs) blobs, \(ByteCount.format(r.bytes))")
            }
            return
        }
        try CommandOutput.run(json: false) { () throws(HistoryError) in
            let store = try options.openSessions()
            let text: String
            switch format {
            case .html: return   // written above
            case .asciicast: text = try store.asciicast(session)
            case .jsonl:
                text = try store.events(session).map { e in
                    String(decoding: e.body, as: UTF8.self)
                }.joined(separator: "\n") + "\n"
            }
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: Data(text.utf8)) else {
                    throw HistoryError.badArgument(field: "--output", message: "cannot write '\(output)'")
                }
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
    }
}
