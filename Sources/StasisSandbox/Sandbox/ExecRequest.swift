import Foundation

/// One command for a sandbox's guest: what to run, where, with what, for how long.
public struct ExecRequest: Sendable {
    /// Shell text for the guest's persistent shell (`ShellCommandLine.quoting` makes one from an argv).
    public var command: String
    /// Variables set for this command only (names are checked by `shellText`).
    public var environment: [String: String]
    /// The directory this command runs in; nil: the shell's current one.
    public var workingDirectory: String?
    /// Seconds before the guest kills the command (exit 124).
    public var timeout: TimeInterval
    /// Bytes for the command's stdin; nil: /dev/null.
    public var stdin: ExecInput?
    /// Run on a pseudo-terminal of its own instead of in the persistent shell (`stasis shell`);
    /// an empty command is then an interactive shell. Environment and working directory do not
    /// apply.
    public var terminal: ExecTerminal?
    /// For a command made from an argv: its program, checked first, so that a missing one ends
    /// with exit 127 and a message that names it (not the shell's word about a script line).
    public var program: String?

    public init(command: String, environment: [String: String] = [:], workingDirectory: String? = nil,
                timeout: TimeInterval = 600, stdin: ExecInput? = nil) {
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
        self.stdin = stdin
    }

    /// Runs `argv` exactly as given: no word splitting, globbing or expansion in the guest.
    public init(argv: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
                timeout: TimeInterval = 600, stdin: ExecInput? = nil) {
        self.init(command: ShellCommandLine.quoting(argv), environment: environment, workingDirectory: workingDirectory,
                  timeout: timeout, stdin: stdin)
        program = argv.first
    }

    /// The text the persistent shell runs. A plain command runs in the shell itself, so `cd`,
    /// variables and background jobs carry over to the next. With an environment or a working
    /// directory it runs in a subshell: those apply to this command only, like `docker exec -e -w`,
    /// and what the command changes in the shell does not last. A directory that does not exist
    /// ends it with exit 125 and a message (as `env -C` does).
    public func shellText() throws(SandboxError) -> String {
        var body = command
        if let program {
            // `(exit 127)`, not `exit`: a plain command runs in the persistent shell itself.
            let name = ShellCommandLine.quote(program)
            body = "if command -v \(name) >/dev/null 2>&1; then\n\(command)\n"
                + "else printf 'stasis: %s: no such program in the guest (PATH=%s)\\n' \(name) \"$PATH\" >&2; (exit 127); fi"
        }
        if environment.isEmpty && workingDirectory == nil { return body }
        var lines = ["("]
        if let dir = workingDirectory {
            let quoted = ShellCommandLine.quote(dir)
            let message = ShellCommandLine.quote("stasis: --cwd \(dir): no such directory in the guest")
            lines.append("cd -- \(quoted) 2>/dev/null || { printf '%s\\n' \(message) >&2; exit 125; }")
        }
        for name in environment.keys.sorted() {
            guard Self.isVariableName(name) else {
                throw .badArgument("--env \(name)=…: '\(name)' is not a variable name (letters, digits and _, not starting with a digit)")
            }
            lines.append("export \(name)=\(ShellCommandLine.quote(environment[name]!))")
        }
        // On a line of its own, so that a trailing comment in the command cannot swallow it.
        lines.append(body)
        lines.append(")")
        return lines.joined(separator: "\n")
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}

/// Where a command's stdin comes from: `read` returns the next bytes, or nil at the end. It is
/// called on a thread of its own, so it may block (a terminal, a pipe, a gRPC stream).
public struct ExecInput: Sendable {
    public let read: @Sendable () -> [UInt8]?
    public init(read: @escaping @Sendable () -> [UInt8]?) { self.read = read }

    /// All of `bytes`, then the end.
    public static func bytes(_ bytes: [UInt8]) -> ExecInput {
        let box = OnceBox(bytes)
        return ExecInput { box.take() }
    }

    /// What a descriptor reads until its end (the CLI's stdin, a pipe); the descriptor stays open.
    public static func descriptor(_ fd: Int32) -> ExecInput {
        ExecInput {
            var buffer = [UInt8](repeating: 0, count: 48 << 10)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return nil }
                return Array(buffer[0..<n])
            }
        }
    }
}

/// Hands out its value once (then nil); safe from any thread.
private final class OnceBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: [UInt8]?
    init(_ value: [UInt8]) { self.value = value }
    func take() -> [UInt8]? { lock.withLock { defer { value = nil }; return value } }
}

/// Which output a chunk came from.
public enum ExecStream: String, Sendable, Codable {
    case stdout, stderr
}

/// How a command ended, with the byte counts the guest reported (and the host checked).
public struct ExecStatus: Sendable, Codable {
    public var exitCode: Int32
    public var stdoutBytes: Int64
    public var stderrBytes: Int64
    public var seconds: Double
    /// True when the guest killed the command at its deadline (exit 124).
    public var timedOut: Bool
}
