import ArgumentParser
import Foundation
import StasisRestore
import StasisSandbox

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command in a session's sandbox; record it, its output and exit code in the history.",
        usage: """
            stasis exec SESSION [--timeout SECONDS] [--env NAME=VALUE]... [--cwd DIR] [-i] -- PROGRAM [ARG...]
            stasis exec SESSION [options] --shell 'LINE'
            """,
        discussion: """
            The words after -- reach the program exactly as given: nothing is split, expanded or \
            parsed again in the guest (`-- touch 'a b'` makes one file). --shell runs a shell line \
            on purpose, with pipes, variables and globs. Commands run in one persistent shell per \
            sandbox: `cd`, variables and background jobs carry over — except with --env or --cwd, \
            which apply to that command only (it runs in a subshell).

            stdout and stderr stream to the terminal as the guest writes them, each to its own, and \
            into the session's history as timestamped output events (`stasis history show`). Every \
            byte is counted by the guest and checked here: an answer cut short is an error (exit \
            1), never a shorter output. -i passes this command's stdin to the program (e.g. \
            `stasis exec S -i -- sh -c 'cat > /tmp/f' < file`); without it the program's stdin \
            is empty.

            Exit codes: the program's own; 124 when it outlived --timeout (the guest killed it \
            with everything it started and restarted the shell: "timed out after N s"); 127 when \
            the program does not exist in the guest; 125 when --cwd is not a directory there; 1 \
            when Stasis failed (no sandbox, a transport error: the message says which).
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session (or sandbox) id or prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: "Seconds before the command is killed in the guest (exit 124).") var timeout: Double = 600
    @Option(name: .long, help: ArgumentHelp("Set a variable for this command only (repeatable).", valueName: "NAME=VALUE")) var env: [String] = []
    @Option(name: .long, help: ArgumentHelp("Run in this guest directory (this command only).", valueName: "DIR")) var cwd: String?
    @Flag(name: [.customShort("i"), .customLong("stdin")], help: "Pass stdin to the command (default: empty stdin).") var stdin = false
    @Option(name: .long, help: ArgumentHelp("A shell line to run as written (pipes, variables, globs).", valueName: "LINE")) var shell: String?
    @Argument(parsing: .postTerminator, help: ArgumentHelp("The program and its arguments, after --.", valueName: "PROGRAM")) var command: [String] = []

    func validate() throws {
        switch (shell, command.isEmpty) {
        case (nil, true): throw ValidationError("give a program after --, e.g. stasis exec SESSION -- uname -a, or a shell line with --shell 'LINE'")
        case (.some, false): throw ValidationError("give either a program after -- or --shell 'LINE', not both")
        default: break
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
        _ = try CommandOutput.pairs(env, option: "--env")
    }

    /// What --json prints: the whole output (as text; bytes that are not UTF-8 are replaced)
    /// with the exact byte counts.
    struct Result: Encodable {
        var exitCode: Int32
        var stdout: String
        var stderr: String
        var stdoutBytes: Int64
        var stderrBytes: Int64
        var seconds: Double
        var timedOut: Bool
    }

    func run() throws {
        let environment = try CommandOutput.pairs(env, option: "--env")
        var request = shell.map { ExecRequest(command: $0, environment: environment, workingDirectory: cwd, timeout: timeout) }
            ?? ExecRequest(argv: command, environment: environment, workingDirectory: cwd, timeout: timeout)
        if stdin { request.stdin = .descriptor(STDIN_FILENO) }
        var code: Int32 = 0
        let json = options.json
        // 124 also when the guest never answered within --timeout and the grace period.
        let exitCode: (SandboxError) -> Int32 = { if case .commandTimedOut = $0 { 124 } else { 1 } }
        try CommandOutput.run(json: json, exitCode: exitCode) { () throws(SandboxError) in
            var out: [UInt8] = []
            var err: [UInt8] = []
            let status = try options.sandboxService().exec(session, request) { (stream, chunk) throws(SandboxError) in
                if json {
                    if stream == .stdout { out += chunk } else { err += chunk }
                } else {
                    try Self.write(chunk, to: stream == .stdout ? STDOUT_FILENO : STDERR_FILENO)
                }
            }
            code = status.exitCode
            if json {
                CommandOutput.json(Result(exitCode: status.exitCode, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self),
                                          stdoutBytes: status.stdoutBytes, stderrBytes: status.stderrBytes, seconds: status.seconds, timedOut: status.timedOut))
            }
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// Writes all of a chunk as it arrives (no buffering: output shows while the command runs).
    static func write(_ bytes: [UInt8], to fd: Int32) throws(SandboxError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("write the command's output to \(fd == STDOUT_FILENO ? "stdout" : "stderr")", errno)
            }
            done += n
        }
    }
}
