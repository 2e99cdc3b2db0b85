import ArgumentParser
import Foundation
import StasisServer

@main
struct Stasis: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stasis",
        abstract: "Checkpoint/restore and persistent state store for AI-agent sandboxes.",
        discussion: """
            Stasis keeps VM images (guest memory files, disk images) in a content-addressed store: \
            cut into fixed chunks, deduplicated by SHA-256, compressed (zstd or LZ4), packed into \
            immutable files and listed in an SQLite catalog. Sessions add signed checkpoints and a \
            tamper-evident history (replay, diff, proofs, bundles); sandboxes run QEMU microVMs \
            that are checkpointed, paused and resumed into fresh, isolated sandboxes. \
            `stasis serve` offers all of it over gRPC (a LangGraph checkpointer among it). \
            Start with `stasis demo`.

            The store is ./.stasis unless --store or STASIS_STORE says otherwise.

            Exit codes: 0 success; 1 the operation failed (the message says why, and nothing was \
            changed); 2 `verify`, `history verify` or `bundle verify` found damage; 64 bad \
            arguments; `stasis exec` exits with the guest command's code. With --json a failure \
            prints {"error": MESSAGE, "code": CODE} on stdout: CODE is stable (e.g. \
            sandbox.paused, history.session_not_found, usage) for scripts to match on.
            """,
        version: StasisRelease.version,
        subcommands: [
            InitCommand.self, ImageCommand.self, VerifyCommand.self, GCCommand.self,
            StatsCommand.self, RepairCommand.self, BlobCommand.self,
            SessionCommand.self, CheckpointCommand.self, HistoryCommand.self, ReplayCommand.self, PruneCommand.self,
            BundleCommand.self, KeyCommand.self, DiffCommand.self, SandboxCommand.self, TemplateCommand.self, ExecCommand.self, ShellCommand.self, CopyCommand.self, RestoreCommand.self, ServeCommand.self, DemoCommand.self,
        ]
    )
}

extension Stasis {
    /// ArgumentParser's own `main`, plus what users of docker and restic expect: a bad argument
    /// under --json is a JSON error too (code `usage`), and a mistyped command gets a suggestion.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code != .success, !(error is ExitCode) {
                let message = fullMessage(for: error)
                let hint = CommandSuggestion.hint(for: arguments, message: message)
                if arguments.contains("--json") {
                    CommandOutput.json(["error": message + (hint.map { " (\($0))" } ?? ""), "code": "usage"])
                }
                // The parser's message first, then the hint, then its exit code.
                CommandOutput.warn(message)
                if let hint { CommandOutput.warn(hint) }
                Foundation.exit(code.rawValue)
            }
            exit(withError: error)
        }
    }
}
