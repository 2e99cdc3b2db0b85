import ArgumentParser
import StasisSessions

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Show the store's signing key.",
        subcommands: [KeyShowCommand.self])
}

struct KeyShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the store's public key (64 hex digits).",
        discussion: """
            The key that signs this store's checkpoints and history heads, derived from the \
            private key file (keys/store.ed25519), not read from the catalog. Give it to \
            `bundle verify --key KEY` or `bundle import --key KEY` to pin a bundle to this store \
            without trusting the bundle.
            """)
    @OptionGroup var options: StoreOptions

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let key = try options.openSessions().publicKey()
            if options.json { CommandOutput.json(["publicKey": key, "algorithm": "ed25519"]) } else { CommandOutput.line(key) }
        }
    }
}
