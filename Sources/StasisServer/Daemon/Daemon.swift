import Dispatch
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import StasisGraphStore
import StasisRestore
import StasisSandbox
import StasisSessions
import StasisStore

/// `stasis serve`: the store's services on a Unix socket (and optionally TCP) until SIGTERM or
/// SIGINT, then a drain — in-flight calls finish, new ones are refused — and a clean exit.
///
/// Nothing the daemon acknowledges is only in memory: every write commits (fsync) before its
/// reply, so SIGKILL at any moment leaves the store consistent and loses nothing acknowledged.
public enum Daemon {
    /// Runs until a stop signal. `announce` gets one line per listener once it accepts calls.
    public static func run(_ config: DaemonConfiguration, announce: @escaping @Sendable (String) -> Void) async throws(DaemonError) {
        if config.tcpAddress != nil, (config.token ?? "").isEmpty { throw .tokenRequired }
        umask(0o077)  // the socket and every file the daemon creates: owner only
        let store: ContentStore
        do { store = try ContentStore.open(at: config.storePath) } catch { throw .store(error.description) }
        let lock = try ServeLock(store: store.layout.root)
        defer { lock.release() }
        let graph: GraphStore
        do { graph = try GraphStore(store: store) } catch { throw .store(error.description) }
        let sessions = SessionStore(store: store)
        let sandboxes = SandboxService(sessions: sessions, pageServer: PageServerLauncher.currentExecutable)
        let tracker = CallTracker()
        let health = HealthService(graph: graph, sandboxes: sandboxes, tracker: tracker, started: Date(), maxMessageBytes: config.maxMessageBytes)
        let limit = MessageLimit(bytes: config.maxMessageBytes)
        let memory = MemoryStore(graph: graph)
        let services: [any RegistrableRPCService] = [
            health, CheckpointerService(graph: graph, limits: limit, tracker: tracker), SessionsService(sessions: sessions, limits: limit),
            SandboxesService(service: sandboxes), MemoryStoreService(memory: memory, limits: limit),
        ]

        // A socket file left by a daemon that died: the serve lock proves nobody uses it.
        var st = stat()
        if lstat(config.socketPath, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFSOCK else {
                throw .listen("\(config.socketPath) exists and is not a socket; remove it or pass --socket")
            }
            unlink(config.socketPath)
        }
        let transportConfig = HTTP2ServerTransport.Posix.Config.defaults {
            $0.rpc.maxRequestPayloadSize = limit.bytes
            // The guard answers RESOURCE_EXHAUSTED from a message's prefix, before its body is
            // buffered; the transport's limit (the same) stays as a backstop.
            $0.channelDebuggingCallbacks.onAcceptHTTP2Stream = { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(OversizedRequestGuard(limit: limit.bytes), position: .first)
                }
            }
            // HTTP/2's defaults (64 KiB windows, 16 KiB frames, 100 streams) cost a round trip per
            // 64 KiB of a large checkpoint, and a client that opens more than 100 calls at once
            // before it has read the server's settings is disconnected.
            $0.http2 = .init(maxFrameSize: 1 << 20, targetWindowSize: 16 << 20, maxConcurrentStreams: 4096)
        }
        let unixServer = GRPCServer(
            transport: .http2NIOPosix(address: .unixDomainSocket(path: config.socketPath), transportSecurity: .plaintext, config: transportConfig),
            services: services, interceptors: [tracker])
        var tcpServer: GRPCServer<HTTP2ServerTransport.Posix>? = nil
        if let address = config.tcpAddress {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
                throw .badAddress(address)
            }
            let host = String(address[..<colon])
            var security = HTTP2ServerTransport.Posix.TransportSecurity.plaintext
            if let cert = config.tlsCertificate, let key = config.tlsKey {
                security = .tls(certificateChain: [.file(path: cert, format: .pem)], privateKey: .file(path: key, format: .pem))
            }
            tcpServer = GRPCServer(
                transport: .http2NIOPosix(address: .ipv4(host: host, port: port), transportSecurity: security, config: transportConfig),
                services: services, interceptors: [tracker, TokenInterceptor(token: config.token!)])
        }

        let sweeper = config.memorySweepSeconds.map { seconds in
            Task {
                await MemoryTTLSweeper(memory: memory, interval: .milliseconds(Int64(seconds * 1000))).run { error in
                    FileHandle.standardError.write(Data("stasis serve: memory TTL sweep failed (tried again later): \(error)\n".utf8))
                }
            }
        }
        defer { sweeper?.cancel() }

        let signals = StopSignals()
        let servers = [unixServer] + (tcpServer.map { [$0] } ?? [])
        signals.onStop {
            tracker.beginDraining()
            for s in servers { s.beginGracefulShutdown() }
            // Calls that do not finish in time are abandoned; every write is already durable
            // or not acknowledged, so exiting is safe.
            DispatchQueue.global().asyncAfter(deadline: .now() + config.drainSeconds) {
                FileHandle.standardError.write(Data("stasis serve: calls still running after \(Int(config.drainSeconds)) s; exiting\n".utf8))
                exit(0)
            }
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for s in servers { group.addTask { try await s.serve() } }
                let unixAddress = try await unixServer.transport.listeningAddress
                chmod(config.socketPath, 0o600)
                announce("listening unix://\(unixAddress.unixDomainSocket?.path ?? config.socketPath)")
                if let tcpServer {
                    let a = try await tcpServer.transport.listeningAddress
                    if let v4 = a.ipv4 { announce("listening \(v4.host):\(v4.port)") } else { announce("listening \(a)") }
                }
                try await group.waitForAll()
            }
        } catch {
            for s in servers { s.beginGracefulShutdown() }
            unlink(config.socketPath)
            throw .listen("\(error)")
        }
        unlink(config.socketPath)
        // Every write is already durable; this only folds the WAL back into the catalog.
        try? store.catalog.checkpointWAL()
    }
}

