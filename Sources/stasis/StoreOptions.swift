import ArgumentParser
import Foundation
import StasisSessions
import StasisStore

/// Options every store command takes.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory (default: $STASIS_STORE, else ./.stasis).", valueName: "DIR"))
    var store: String?

    @Flag(name: .long, help: "Print the result as JSON on standard output (errors too).")
    var json = false

    var storePath: String {
        store ?? ProcessInfo.processInfo.environment["STASIS_STORE"] ?? ".stasis"
    }

    func open() throws(StoreError) -> ContentStore {
        try ContentStore.open(at: storePath)
    }

    func openSessions() throws(HistoryError) -> SessionStore {
        try SessionStore.open(at: storePath)
    }

    /// A terminal progress bar on stderr when it is a terminal and output is not JSON.
    var progress: any ProgressReporter {
        json ? SilentProgress() : TerminalProgress.ifTerminal()
    }
}
