import Hummingbird
import Logging
import NIOCore
import StasisSessions

/// `stasis serve --http`: the timeline pages and their JSON over HTTP/1.1, beside the daemon's
/// gRPC listeners. It only reads the store; every answer comes from the sessions library.
public enum TimelineServer {
    /// Serves until the calling task is cancelled. `announce` gets `listening http://HOST:PORT`
    /// once the socket accepts connections.
    public static func run(_ config: TimelineServerConfiguration, sessions: SessionStore,
                           announce: @escaping @Sendable (String) -> Void) async throws(TimelineServerError) {
        let router = Router()
        router.add(middleware: TokenMiddleware<BasicRequestContext>(token: config.token))
        TimelineRoutes(sessions: sessions).register(on: router)
        var logger = Logger(label: "stasis.timeline")
        // Shutdown logs a cancelled child channel at error level; the daemon reports its own failures.
        logger.logLevel = .critical
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(config.host, port: config.port), serverName: nil),
            onServerRunning: { channel in
                let host = config.host.contains(":") ? "[\(config.host)]" : config.host
                announce("listening http://\(host):\(channel.localAddress?.port ?? config.port)")
            },
            logger: logger)
        do { try await app.run() } catch is CancellationError {
        } catch { throw .listen("\(error)") }
    }
}
