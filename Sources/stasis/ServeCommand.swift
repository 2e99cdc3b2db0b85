import ArgumentParser
import Foundation
import Synchronization
import StasisServer
import StasisSessions
import StasisTimelineServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the store over gRPC: LangGraph checkpointer, sessions, history, sandboxes.",
        discussion: """
            Listens on a Unix socket (default STORE/stasis.sock, mode 0600) and, with --listen, \
            on TCP, where every call but the health check needs `authorization: Bearer TOKEN` \
            (token from --token-file or $STASIS_TOKEN; TLS with --tls-cert/--tls-key). The API is \
            Formats/proto/stasis.proto; the Python package Tools/stasis-langgraph wraps it as a \
            LangGraph `BaseCheckpointSaver` (`StasisSaver`).

            Prints `listening ADDRESS` per listener once it accepts calls (a JSON object per line \
            with --json). Every write is durable before it is acknowledged. SIGTERM or SIGINT \
            drains: in-flight calls finish, new ones get UNAVAILABLE, then exit 0. One daemon per \
            store (STORE/serve.lock). Exit 1 when it cannot start (the message says why).

            With --http HOST:PORT it also serves the forensic timeline over HTTP: GET / lists \
            sessions, /sessions/ID is a session's verified timeline page (the same page as \
            `history export --format html`), and /api/… answers JSON (sessions, events by range, \
            search, checkpoint diffs, files at a checkpoint; Formats/timeline.md). A loopback \
            address needs no token; any other needs one, and once a token is configured every \
            request must carry it (`Authorization: Bearer TOKEN`, or open /?token=TOKEN once in \
            a browser, which keeps it in an HttpOnly cookie); without it the answer is 401.
            """)

    @OptionGroup var options: StoreOptions

    @Option(name: .long, help: ArgumentHelp("The Unix socket (default: STORE/stasis.sock).", valueName: "PATH"))
    var socket: String?

    @Option(name: .long, help: ArgumentHelp("Also listen on TCP, e.g. 127.0.0.1:7443 (port 0 picks a free one). Needs a token.", valueName: "HOST:PORT"))
    var listen: String?

    @Option(name: .long, help: ArgumentHelp("Also serve the timeline over HTTP, e.g. 127.0.0.1:8080 (port 0 picks a free one). Other than loopback needs a token.", valueName: "HOST:PORT"))
    var http: String?

    @Option(name: .long, help: ArgumentHelp("File holding the TCP token (default: $STASIS_TOKEN).", valueName: "FILE"))
    var tokenFile: String?

    @Option(name: .long, help: ArgumentHelp("PEM certificate chain for TLS on the TCP listener.", valueName: "FILE"))
    var tlsCert: String?

    @Option(name: .long, help: ArgumentHelp("PEM private key for --tls-cert.", valueName: "FILE"))
    var tlsKey: String?

    @Option(name: .long, help: ArgumentHelp("Largest request message accepted (default 64M); larger get RESOURCE_EXHAUSTED.", valueName: "SIZE"))
    var maxMessage: String = "64M"

    func validate() throws {
        guard let n = ByteCount.parse(maxMessage), n >= 1024, n <= 1 << 30 else {
            throw ValidationError("--max-message '\(maxMessage)' must be a size from 1K to 1G (for example 4M)")
        }
        if let listen {
            guard let colon = listen.lastIndex(of: ":"), colon != listen.startIndex,
                  let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
                throw ValidationError("--listen '\(listen)': expected HOST:PORT with a numeric port, e.g. 127.0.0.1:7443")
            }
        }
        for (option, path) in [("--tls-cert", tlsCert), ("--tls-key", tlsKey)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw ValidationError("\(option) '\(path)': cannot read that file")
            }
        }
        if let http {
            do { _ = try TimelineServerConfiguration(address: http, token: "checked in run") } catch {
                throw ValidationError(error.description)
            }
        }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if listen == nil, tlsCert != nil { throw ValidationError("--tls-cert applies to --listen; add --listen HOST:PORT") }
    }

    /// Synchronous on purpose: the daemon's executor must be installed before any async code runs.
    func run() throws {
        // False only if async code already ran; the daemon then works the same, with more thread hops.
        _ = DaemonExecutor.installOnEventLoops()
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await serve() } catch { outcome.error.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = outcome.error.withLock({ $0 }) { throw error }
    }

    final class Outcome: Sendable {
        let error = Mutex<(any Error)?>(nil)
    }

    func serve() async throws {
        var token = ProcessInfo.processInfo.environment["STASIS_TOKEN"]
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                CommandOutput.warn("error: --token-file \(tokenFile): cannot read it")
                throw ExitCode(1)
            }
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let root = URL(fileURLWithPath: options.storePath).standardizedFileURL.path
        let config = DaemonConfiguration(storePath: root, socketPath: socket, tcpAddress: listen, token: token,
                                         tlsCertificate: tlsCert, tlsKey: tlsKey, maxMessageBytes: ByteCount.parse(maxMessage)!)
        let json = options.json
        let announce: @Sendable (String) -> Void = { line in
            let text = json ? "{\"listening\": \"\(line.dropFirst("listening ".count))\"}\n" : line + "\n"
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        var timeline: TimelineServerConfiguration?
        if let http {
            do { timeline = try TimelineServerConfiguration(address: http, token: token) } catch {
                if json { CommandOutput.json(["error": error.description]) }
                CommandOutput.warn("error: \(error.description)")
                throw ExitCode(1)
            }
        }
        do {
            guard let timeline else { return try await Daemon.run(config, announce: announce) }
            let sessions = try SessionStore.open(at: root)
            // The daemon returns when a stop signal has drained it; the HTTP face then stops too.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await Daemon.run(config, announce: announce) }
                group.addTask { try await TimelineServer.run(timeline, sessions: sessions, announce: announce) }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            let message = String(describing: error)
            if json { CommandOutput.json(["error": message]) }
            CommandOutput.warn("error: \(message)")
            throw ExitCode(1)
        }
    }
}
