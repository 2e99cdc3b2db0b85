import CStasisSystem
import Foundation
import StasisFUSE
import StasisIO
import StasisSandbox
import StasisSessions
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
    /// Seconds after the hand-off during which first touches are recorded (`AccessRecorder`).
    public static let defaultOrderSeconds: Double = 10

    /// Runs the page server in this process; returns its exit code.
    /// `checkpoint`: the checkpoint restored. Its recorded access order of the image, if it has
    /// one, is prefetched from the mount on; if it has none, this restore records one.
    public static func run(store: ContentStore, image: String, checkpoint: String? = nil, directory: String, executable: String,
                           orderWindow: Double = defaultOrderSeconds) -> Int32 {
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
        // A recorded order to prefetch, or a recorder to make one (Formats/lazy-restore.md).
        let sessions = SessionStore(store: store)
        var order: [Int]?
        var orderWarning: String?
        if let checkpoint {
            do {
                order = try sessions.accessOrder(checkpoint: checkpoint, image: source.imageID, chunkSize: source.manifest.chunkSize,
                                                 chunkCount: source.manifest.chunks.count)?.chunks
            } catch {
                orderWarning = "the recorded access order is not used: \(error.description)"
                FileHandle.standardError.write(Data(("warning: " + orderWarning! + "\n").utf8))
            }
        }
        let recorder = checkpoint != nil && order == nil && orderWarning == nil
            ? AccessRecorder(chunkCount: source.manifest.chunks.count, limit: AccessRecorder.defaultLimit(chunkSize: source.manifest.chunkSize),
                             closeAfterHandOff: orderWindow) : nil
        let me = ProcessStatus.read(getpid())
        let status = Mutex(PageServerStatus(state: .serving, pid: getpid(), startTime: me?.startTime ?? 0, image: source.imageID,
                                            chunks: source.manifest.chunks.count, localChunks: 0, dirtyChunks: 0, fetchedBytes: 0,
                                            prefetchChunks: order?.count, orderWarning: orderWarning))
        let generation = Atomic<Int>(0)
        let published = Mutex<LazyMemoryFile?>(nil)
        let publishDirtyMap: @Sendable () -> Int32 = {
            guard let file = published.withLock({ $0 }) else { return 0 }
            let map = DirtyMap(image: source.imageID, chunkSize: source.manifest.chunkSize, imageSize: source.manifest.imageSize,
                               generation: generation.add(1, ordering: .relaxed).newValue, dirty: file.dirtyChunks)
            return map.save(dir) ? 0 : EIO
        }
        let file = LazyMemoryFile(source: source, overlay: overlay, recorder: recorder, onSynchronize: publishDirtyMap) { fault in
            // Stop the VM before any read is answered EIO: a guest never runs on what it lacks.
            dir.process?.signal(SIGKILL)
            status.withLock { s in
                s.state = .failed
                s.error = fault.description
                s.save(dir)
            }
        }
        published.withLock { $0 = file }
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

        // Prefetch from the mount on: QEMU's loading and the guest's first instructions are
        // what the order holds first.
        let prefetched = DispatchSemaphore(value: 0)
        if let order {
            let mounted = Date()
            Thread.detachNewThread {
                let fault = file.prefetch(order, workers: prefetchWorkers)
                publish { s in if fault == nil { s.prefetchMs = (Date().timeIntervalSince(mounted) * 10_000).rounded() / 10 } }
                prefetched.signal()
            }
        } else {
            prefetched.signal()
        }

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
                handOff(dir, file: file, source: source, publish: publish, executable: executable, after: prefetched)
                if let recorder, let checkpoint {
                    Thread.detachNewThread {
                        storeOrder(recorder, of: source, checkpoint: checkpoint, sessions: sessions, publish: publish)
                    }
                }
                continue
            }
            break
        }
        // The VM ended (or the sandbox is stopped) inside the recording window: what was
        // recorded is still the guest's first touches.
        if handedOff, let recorder, let checkpoint {
            storeOrder(recorder, of: source, checkpoint: checkpoint, sessions: sessions, publish: publish, waiting: false)
        }
        _ = FUSEMount.unmount(dir.memory)
        _ = served.wait(timeout: .now() + 5)
        publish { s in if s.state != .failed { s.state = .stopped } }
        return 0
    }

    /// The VM runs: hydrate, watch QEMU, start the watchdog.
    typealias Publish = @Sendable (_ change: (inout PageServerStatus) -> Void) -> Void

    /// Threads that prefetch a recorded order: a few, so that one chunk's read and decode
    /// overlaps another's (and a fleet store's ranged GETs overlap).
    static let prefetchWorkers = 3

    static func handOff(_ dir: SandboxDirectory, file: LazyMemoryFile, source: ImageChunkSource, publish: @escaping Publish, executable: String,
                        after prefetched: DispatchSemaphore) {
        let started = Date()
        publish { s in if s.state == .serving { s.state = .hydrating } }
        Thread.detachNewThread {
            // The recorded order first (it may still run), then the rest in image order.
            prefetched.wait()
            prefetched.signal()
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

extension PageServer {
    /// Waits for the recording window to close (its time after the hand-off, or its chunk limit),
    /// then stores the order with the checkpoint. A failure is reported in the status, never
    /// fatal: the restore only misses a faster next restore.
    static func storeOrder(_ recorder: AccessRecorder, of source: ImageChunkSource, checkpoint: String, sessions: SessionStore,
                           publish: Publish, waiting: Bool = true) {
        let deadline = Date().addingTimeInterval(recorder.closeAfterHandOff)
        while waiting && Date() < deadline && recorder.isOpen { usleep(100_000) }
        guard let chunks = recorder.close(), !chunks.isEmpty else { return }
        let order = MemoryAccessOrder(image: source.imageID, chunkSize: source.manifest.chunkSize, chunks: chunks)
        do {
            let row = try sessions.recordAccessOrder(checkpoint: checkpoint, order)
            publish { s in s.recordedChunks = row.chunks }
        } catch {
            let warning = "recording the access order of checkpoint \(checkpoint) failed: \(error.description)"
            FileHandle.standardError.write(Data(("warning: " + warning + "\n").utf8))
            publish { s in s.orderWarning = warning }
        }
    }
}
