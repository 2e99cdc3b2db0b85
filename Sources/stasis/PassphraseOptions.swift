import ArgumentParser
import Foundation
import StasisSessions

/// The passphrase of an encrypted bundle: from a file (its first line), or from the environment,
/// as restic and borg take theirs — never from an argument, which other users can see in `ps`.
struct PassphraseOptions: ParsableArguments {
    static let environmentVariable = "STASIS_BUNDLE_PASSPHRASE"

    @Option(name: .long, help: ArgumentHelp("Read the bundle's passphrase from the first line of FILE (or set STASIS_BUNDLE_PASSPHRASE).", valueName: "FILE"))
    var passphraseFile: String?

    /// The passphrase given, if any.
    func passphrase() throws(HistoryError) -> [UInt8]? {
        if let passphraseFile {
            guard let data = FileManager.default.contents(atPath: passphraseFile) else {
                throw .badArgument(field: "--passphrase-file", message: "cannot read '\(passphraseFile)'")
            }
            let line = data.split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
            guard !line.isEmpty else { throw .badArgument(field: "--passphrase-file", message: "the first line of '\(passphraseFile)' is empty") }
            return Array(line)
        }
        if let value = ProcessInfo.processInfo.environment[Self.environmentVariable] {
            guard !value.isEmpty else { throw .badArgument(field: Self.environmentVariable, message: "it is set but empty") }
            return Array(value.utf8)
        }
        return nil
    }
}
