import ArgumentParser

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
            arguments; `stasis exec` exits with the guest command's code.
            """,
        subcommands: [
            InitCommand.self, ImageCommand.self, VerifyCommand.self, GCCommand.self,
            StatsCommand.self, RepairCommand.self, BlobCommand.self,
            SessionCommand.self, CheckpointCommand.self, HistoryCommand.self, ReplayCommand.self, PruneCommand.self,
            BundleCommand.self, KeyCommand.self, DiffCommand.self, SandboxCommand.self, TemplateCommand.self, ExecCommand.self, RestoreCommand.self, ServeCommand.self, DemoCommand.self,
        ]
    )
}
