import ArgumentParser
import Foundation
import StasisSessions

struct BundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Export a session as one self-verifying file; verify it offline; import it elsewhere.",
        subcommands: [BundleExportCommand.self, BundleVerifyCommand.self, BundleImportCommand.self])
}

struct BundleExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a session to a bundle file.",
        discussion: "The bundle holds the history, the checkpoints (all, or --checkpoint) with their signatures and public keys, the image and blob manifests, and every chunk they need. With a passphrase (--passphrase-file, or STASIS_BUNDLE_PASSPHRASE) every entry is encrypted (AES-256-GCM, key from scrypt); without one the bundle is plain, whatever the store's encryption (from an encrypted store a warning says so, and --json has it under \"warnings\").")
    @OptionGroup var options: StoreOptions
    @OptionGroup var passphrase: PassphraseOptions
    @Argument(help: ArgumentHelp("Session id or unique prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: ArgumentHelp("Only this checkpoint (and the whole history).", valueName: "CHECKPOINT")) var checkpoint: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("The bundle file to write (must not exist).", valueName: "FILE")) var output: String

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let secret = try passphrase.passphrase()
            let r = try options.openSessions().exportBundle(session, checkpoint: checkpoint, to: output, passphrase: secret, progress: options.progress)
            if options.json { CommandOutput.json(r) } else {
                CommandOutput.line("wrote \(r.path)\(r.encrypted ? " (encrypted)" : ""): \(r.events) events, \(r.checkpoints.count) checkpoints, \(r.images) images, \(r.blobs) blobs, \(r.chunks) chunks, \(r.bytes) bytes")
                for warning in r.warnings { CommandOutput.warn("warning: \(warning)") }
            }
        }
    }
}

struct BundleVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a bundle offline: digests, history, signatures, manifests, every chunk.",
        discussion: "Needs no store. --key pins the signer: a bundle signed by any other key is refused. An encrypted bundle needs its passphrase. Exits 2 when the bundle fails a check, 1 for a missing or wrong passphrase or another usage error.")
    @Option(name: .long, help: ArgumentHelp("Store directory (ignored: verify needs no store).", valueName: "DIR")) var store: String?
    @Flag(name: .long, help: "Print the result as JSON.") var json = false
    @Argument(help: ArgumentHelp("The bundle file.", valueName: "FILE")) var file: String
    @Option(name: .long, help: ArgumentHelp("The public key (64 hex digits) that must have signed it.", valueName: "KEY")) var key: String?
    @OptionGroup var passphrase: PassphraseOptions

    func run() throws {
        do {
            let r = try SessionStore.verifyBundle(at: file, expectedKey: key, passphrase: try passphrase.passphrase())
            if json { CommandOutput.json(r) } else {
                CommandOutput.line("ok: session \(r.session), \(r.events) events, \(r.checkpoints.count) checkpoints, \(r.images) images, \(r.blobs) blobs, \(r.chunks) chunks")
                CommandOutput.line("signed by: \(r.signers.joined(separator: ", "))")
            }
        } catch {
            if json { CommandOutput.json(["error": error.description]) }
            CommandOutput.warn("error: \(error.description)")
            if case .badArgument = error { throw ExitCode(1) }   // a passphrase or argument, not damage
            throw ExitCode(2)
        }
    }
}

struct BundleImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Verify a bundle completely, then add its session to the store.",
        discussion: "Nothing is committed unless every check passes. --key pins the signer. An encrypted bundle needs its passphrase; the session it adds is kept under this store's own encryption.")
    @OptionGroup var options: StoreOptions
    @OptionGroup var passphrase: PassphraseOptions
    @Argument(help: ArgumentHelp("The bundle file.", valueName: "FILE")) var file: String
    @Option(name: .long, help: ArgumentHelp("The public key (64 hex digits) that must have signed it.", valueName: "KEY")) var key: String?

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let r = try options.openSessions().importBundle(at: file, expectedKey: key, passphrase: try passphrase.passphrase())
            if options.json { CommandOutput.json(r) } else {
                CommandOutput.line("imported session \(r.session): \(r.events) events, \(r.checkpoints.count) checkpoints, \(r.images) images")
            }
        }
    }
}
