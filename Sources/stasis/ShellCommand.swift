import ArgumentParser
import Dispatch
import Foundation
import StasisRestore
import StasisSandbox

struct ShellCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "Open an interactive shell on a terminal in a session's sandbox, recorded in its history.",
        usage: """
            stasis shell SESSION
            stasis shell SESSION --command 'LINE'     (a program that wants a terminal: top, vi, a REPL)
            """,
        discussion: """
            The shell runs on a pseudo-terminal of its own in the guest: line editing, job control, \
            ^C and full-screen programs behave as in a terminal, and resizing this window resizes \
            it. It is a fresh login shell (cwd /root, or a template's working directory), not the \
            persistent shell of `stasis exec`: what you `cd` or set here does not carry over there. \
            Leave it with `exit` or ^D; its exit status is this command's.

            Everything the terminal shows is recorded as timestamped output in the session's \
            history, so `stasis replay SESSION` plays the session back and `history export \
            --format asciicast` turns it into a cast. What you type is recorded only as it is echoed.

            When stdin is not a terminal (a pipe), its lines are typed into the shell and its end \
            is ^D. --json prints the exit code and byte count at the end instead of the output.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session (or sandbox) id or prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: ArgumentHelp("Run this shell line on the terminal instead of an interactive shell.", valueName: "LINE")) var command: String?
    @Option(name: .long, help: "Seconds before the session is ended in the guest (exit 124).") var timeout: Double = 86_400

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
        if let command, command.isEmpty { throw ValidationError("--command needs a shell line; leave it out for an interactive shell") }
    }

    struct Result: Encodable {
        var exitCode: Int32
        var outputBytes: Int64
        var seconds: Double
        var timedOut: Bool
    }

    func run() throws {
        let local = LocalTerminal()
        let terminal = try ExecTerminal(size: local.size, term: LocalTerminal.guestTerm)
        var request = ExecRequest(command: command ?? "", timeout: timeout, stdin: .descriptor(STDIN_FILENO))
        request.terminal = terminal
        let json = options.json
        var code: Int32 = 0
        let exitCode: (SandboxError) -> Int32 = { if case .commandTimedOut = $0 { 124 } else { 1 } }
        try CommandOutput.run(json: json, exitCode: exitCode) { () throws(SandboxError) in
            let service = try options.sandboxService()
            // Raw only once the sandbox is found: an error before it prints on a normal terminal.
            local.enterRawMode()
            defer { local.restore() }
            let resizes = local.onResize { terminal.resize($0) }
            defer { resizes.cancel() }
            var total: Int64 = 0
            let status = try service.exec(session, request) { (_, chunk) throws(SandboxError) in
                total += Int64(chunk.count)
                if !json { try ExecCommand.write(chunk, to: STDOUT_FILENO) }
            }
            code = status.exitCode
            if json { CommandOutput.json(Result(exitCode: status.exitCode, outputBytes: total, seconds: status.seconds, timedOut: status.timedOut)) }
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// This process's terminal: its size, raw mode for the session (keys go to the guest as typed,
/// ^C included), and SIGWINCH. Where stdin or stdout is not a terminal, nothing changes and the
/// size is 24x80.
final class LocalTerminal: @unchecked Sendable {
    private var saved: termios?

    /// The guest's TERM: this one's where it is a plain name, else xterm-256color.
    static var guestTerm: String {
        let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
        let plain = !term.isEmpty && term.count <= 64 && term.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-._".unicodeScalars.contains($0) }
        return plain && term != "dumb" ? term : "xterm-256color"
    }

    var size: ExecTerminal.Size {
        var w = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_row > 0, w.ws_col > 0 else { return .init(rows: 24, columns: 80) }
        return .init(rows: Int(w.ws_row), columns: Int(w.ws_col))
    }

    func enterRawMode() {
        guard isatty(STDIN_FILENO) == 1 else { return }
        var mode = termios()
        guard tcgetattr(STDIN_FILENO, &mode) == 0 else { return }
        saved = mode
        cfmakeraw(&mode)
        tcsetattr(STDIN_FILENO, TCSANOW, &mode)
    }

    func restore() {
        guard var mode = saved else { return }
        tcsetattr(STDIN_FILENO, TCSANOW, &mode)
        saved = nil
    }

    /// Calls `handler` with the new size on every SIGWINCH until the source is cancelled.
    func onResize(_ handler: @escaping @Sendable (ExecTerminal.Size) -> Void) -> DispatchSourceSignal {
        signal(SIGWINCH, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
        source.setEventHandler { [self] in handler(size) }
        source.resume()
        return source
    }
}
