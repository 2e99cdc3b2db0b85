import ArgumentParser
import Foundation
import StasisSessions
import StasisStore

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Show the store's signing key and its encryption keys; export and rotate the master key.",
        subcommands: [KeyShowCommand.self, KeyExportCommand.self, KeyRotateCommand.self])
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

    @Flag(name: .long, help: "Also show the store's encryption: master key fingerprint and where it comes from, data keys.")
    var encryption = false

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let sessions = try options.openSessions()
            let key = try sessions.publicKey()
            guard encryption else {
                if options.json { CommandOutput.json(["publicKey": key, "algorithm": "ed25519"]) } else { CommandOutput.line(key) }
                return
            }
            let info: EncryptionInfo
            do throws(StoreError) { info = try sessions.store.encryptionInfo() } catch { throw .store(error) }
            if options.json {
                CommandOutput.json(KeyReport(publicKey: key, encryption: info))
            } else {
                CommandOutput.line("signing key   \(key) (ed25519)")
                if let algorithm = info.algorithm {
                    CommandOutput.line("encryption    \(algorithm)")
                    CommandOutput.line("master key    \(info.masterKeyFingerprint ?? "missing") (\(info.masterKeySource ?? "not found"))")
                    CommandOutput.line("data keys     \(info.dataKeys.map(String.init).joined(separator: ", ")) (current: \(info.currentDataKey.map(String.init) ?? "-"))")
                } else {
                    CommandOutput.line("encryption    none (the store was created with --no-encryption)")
                }
            }
        }
    }
}

private struct KeyReport: Encodable {
    var publicKey: String
    var algorithm = "ed25519"
    var encryption: EncryptionInfo
}

struct KeyExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the store's master key to a file (mode 0600), for a backup or another host.",
        discussion: """
            The master key opens everything in the store: keep the file where only the store's \
            operators can read it. A host joining a fleet store takes it with \
            `stasis init … --key store.ed25519 --master-key FILE`.
            """)
    @OptionGroup var options: StoreOptions

    @Option(name: .customLong("master"), help: ArgumentHelp("Where to write the master key; refuses an existing file.", valueName: "FILE"))
    var output: String

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let store = try options.open()
            let key = try store.exportMasterKey(to: output)
            if options.json { CommandOutput.json(["masterKey": output, "fingerprint": key.fingerprint]) }
            else { CommandOutput.line("wrote master key \(key.fingerprint) to \(output) (mode 0600)") }
        }
    }
}

struct KeyRotateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Replace the master key: re-wrap the data keys under a new one (no pack is rewritten).",
        discussion: """
            Writes the new key to keys/master.key (the old one stops working at once). In a fleet \
            store, copy the new key to every other host (`stasis key export --master FILE`). When \
            the key comes from $STASIS_MASTER_KEY, no file is written: the new key is printed \
            once — put it where the environment gets it from before the next command.

            --new-data-key also starts a new data key: new packs and manifests are sealed with \
            it; old ones keep theirs. Do it when a data key may have leaked, or after 2^32 frames.
            """)
    @OptionGroup var options: StoreOptions

    @Flag(name: .long, help: "Also start a new data key for new data.")
    var newDataKey = false

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(StoreError) in
            let store = try options.open()
            let environment = ProcessInfo.processInfo.environment
            let fromEnvironment = environment[MasterKey.environmentVariable]?.isEmpty == false
            let key = try store.rotateMasterKey(newDataKey: newDataKey, environment: environment)
            var fields = ["fingerprint": key.fingerprint, "newDataKey": String(newDataKey)]
            if fromEnvironment { fields["masterKey"] = key.hex } else { fields["masterKeyFile"] = store.layout.keysDirectory + "/master.key" }
            if options.json { CommandOutput.json(fields) } else {
                CommandOutput.line("rotated the master key: now \(key.fingerprint)")
                if fromEnvironment {
                    CommandOutput.line("new \(MasterKey.environmentVariable) (shown once): \(key.hex)")
                } else {
                    CommandOutput.line("  \(store.layout.keysDirectory)/master.key; copy it to every other host of this store")
                }
            }
        }
    }
}
