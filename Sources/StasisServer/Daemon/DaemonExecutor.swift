import NIOCore
import NIOPosix

/// Where the daemon's Swift concurrency runs.
public enum DaemonExecutor {
    /// Runs Swift concurrency's global executor on NIO's event loop threads, so that a call does
    /// not hop between the socket's event loop and a separate thread pool at every step (each
    /// hop a thread wake-up). Must be called before any async code runs; false if too late.
    public static func installOnEventLoops() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
