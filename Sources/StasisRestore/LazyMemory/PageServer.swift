import CStasisSystem
import Foundation
import StasisFUSE
import StasisIO
import StasisSandbox
import StasisStore
import Synchronization

/// The process that serves a lazily restored sandbox's memory (`stasis sandbox page-server`,
/// started by the restore, never by a person). It mounts the FUSE file over `guest.mem`, says
/// "ready" on descriptor 3, and serves until the file is unmounted. On SIGUSR1 — the restore's
/// hand-off once the VM runs — it starts hydrating, watches QEMU (its exit ends the page
/// server), and starts a watchdog that stops the VM if the page server itself dies. SIGTERM
/// unmounts and ends it.
public enum PageServer {
    public static let readyDescriptor: Int32 = 3

    /// Runs the page server in this process; returns its exit code.
    public static func run(store: ContentStore, image: String, directory: String, executable: String) -> Int32 {
        let dir = SandboxDirectory(path: directory)
        // Before any thread: the signals are taken by `sigwait` here, never delivered.
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGUSR1] { sigaddset(&signals, s) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        func refuse(_ message: String) -> Int32 {
            let line = Array(("error: " + message + "\n").utf8)
            _ = line.withUnsafeBytes { write(readyDescriptor, $0.baseAddress, $0.count) }
            close(readyDescriptor)
            return 1
        }
        let source: ImageChunkSource
        do { source = try store.chunkSource(of: image) } catch { return refuse("opening memory image \(image): \(error.description)") }
        let overlay: FileDescriptor
        do {
            overlay = try FileDescriptor.open(PageServerStatus.overlayPath(dir), .createExclusive, permissions: 0o600)
            try overlay.truncate(to: source.manifest.imageSize)
        } catch {
            source.close()
            return refuse("creating the overlay: \(error)")
        }
        let me = ProcessStatus.read(getpid())
        let status = Mutex(PageServerStatus(state: .serving, pid: getpid(), startTime: me?.startTime ?? 0, image: source.imageID,
                                            chunks: source.manifest.chunks.count, localChunks: 0, dirtyChunks: 0, fetchedBytes: 0))
        let file = LazyMemoryFile(source: source, overlay: overlay) { fault in
            // Stop the VM before any read is answered EIO: a guest never runs on what it lacks.
            dir.process?.signal(SIGKILL)
            status.withLock { s in
                s.state = .failed
                s.error = fault.description
                s.save(dir)
            }
        }
        let publish: Publish = { change in
            let c = file.counts
            status.withLock { s in
                s.localChunks = c.local
                s.dirtyChunks = c.dirty
                s.fetchedBytes = c.fetchedBytes
                change(&s)
                s.save(dir)
            }
        }
        let mount: FUSEMount
        do { mount = try FUSEMount(over: dir.memory) } catch {
            source.close()
            return refuse(error.description)
        }
        publish { _ in }
        _ = Array("ready\n".utf8).withUnsafeBytes { write(readyDescriptor, $0.baseAddress, $0.count) }
        close(readyDescriptor)

        let served = DispatchSemaphore(value: 0)
        let server = FUSEFileServer(file: file)
        Thread.detachNewThread {
            _ = mount.serve(server)
            served.signal()
            // Unmounted from outside (or the connection aborted): end the main loop too.
            kill(getpid(), SIGTERM)
        }
        var handedOff = false
        while true {
            var received: Int32 = 0
            guard sigwait(&signals, &received) == 0 else { continue }
            if received == SIGUSR1 {
                guard !handedOff else { continue }
                handedOff = true
                handOff(dir, file: file, source: source, publish: publish, executable: executable)
                continue
            }
            break
        }
        _ = FUSEMount.unmount(dir.memory)
        _ = served.wait(timeout: .now() + 5)
        publish { s in if s.state != .failed { s.state = .stopped } }
        return 0
    }

    /// The VM runs: hydrate, watch QEMU, start the watchdog.
    typealias Publish = @Sendable (_ change: (inout PageServerStatus) -> Void) -> Void

    static func handOff(_ dir: SandboxDirectory, file: LazyMemoryFile, source: ImageChunkSource, publish: @escaping Publish, executable: String) {
        let started = Date()
        publish { s in if s.state == .serving { s.state = .hydrating } }
        Thread.detachNewThread {
            let fault = file.hydrate { _ in publish { _ in } }
            guard fault == nil else { return }
            // Nothing is read from the store any more: let gc run.
            source.close()
            publish { s in
                s.state = .hydrated
                s.hydrationMs = (Date().timeIntervalSince(started) * 10_000).rounded() / 10
            }
        }
        if let qemu = dir.process {
            let pidfd = stasis_pidfd_open(qemu.pid)
            if pidfd >= 0, qemu.isRunning {
                Thread.detachNewThread {
                    var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
                    while poll(&p, 1, -1) < 0 && errno == EINTR {}
                    close(pidfd)
                    kill(getpid(), SIGTERM)
                }
            } else {
                // QEMU is already gone.
                if pidfd >= 0 { close(pidfd) }
                kill(getpid(), SIGTERM)
            }
        }
        _ = try? Spawn.start(executable, ["sandbox", "page-server", "--watch", "--directory", dir.path], log: dir.path + "/page-server.log")
    }
}
