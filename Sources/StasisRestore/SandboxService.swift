import Foundation
import StasisIO
import StasisJSON
import StasisSandbox
import StasisSessions
import StasisStore

/// Sandboxes as users see them: run a session's VM, exec commands in it (recorded in the
/// history), checkpoint it, pause it (checkpoint + free the VM), resume it into a fresh sandbox,
/// list and stop them. The CLI and the daemon both go through this type.
public final class SandboxService: Sendable {
    public let sessions: SessionStore
    public let driver: any SandboxDriver
    public let sandboxesDirectory: String
    public let guestCache: String
    /// Runs the page servers of lazy restores. Without one, every restore is eager.
    public let pageServer: PageServerLauncher?

    public init(sessions: SessionStore, driver: any SandboxDriver = QEMUMicrovmDriver(),
                sandboxesDirectory: String? = nil, guestCache: String = GuestImage.defaultCache,
                pageServer: PageServerLauncher? = nil) {
        self.sessions = sessions
        self.pageServer = pageServer
        self.driver = driver
        self.sandboxesDirectory = sandboxesDirectory ?? ProcessInfo.processInfo.environment["STASIS_SANDBOXES"] ?? sessions.store.layout.root + "/sandboxes"
        self.guestCache = guestCache
    }

    var planner: RestorePlanner { RestorePlanner(sessions: sessions, sandboxesDirectory: sandboxesDirectory) }
    var executor: RestoreExecutor { RestoreExecutor(sessions: sessions, driver: driver, pageServer: pageServer) }

    public struct Running: Sendable, Codable {
        public var sandbox: String
        public var session: String
        public var directory: String
        public var pid: Int32?
        public var memoryBytes: Int64
        public var accelerator: String
        public var restoredFrom: String?
        /// The template the sandbox (or the sandbox it was restored from) started from.
        public var template: String?
        /// A lazily restored sandbox's memory: "lazy: N% local", "hydrated" or "failed: …"
        /// (nil: its memory file is an ordinary local file).
        public var memory: String? = nil
        /// Its network card and egress policy, with the host ports of published ports (nil: no
        /// network).
        public var network: NetworkPolicy? = nil
    }

    /// Every sandbox directory on this host, running or not.
    public func list() -> [Running] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sandboxesDirectory)) ?? []
        return names.sorted().compactMap { name in
            let dir = SandboxDirectory(path: sandboxesDirectory + "/" + name)
            guard let spec = try? dir.loadSpec() else { return nil }
            return Running(sandbox: spec.id, session: spec.session, directory: dir.path, pid: dir.runningPID,
                           memoryBytes: spec.memoryBytes, accelerator: spec.accelerator, restoredFrom: spec.restoredFrom,
                           template: spec.template, memory: PageServerStatus.load(dir)?.summary, network: spec.network)
        }
    }

    /// The running sandbox of a session (or a sandbox id). A session with no running sandbox but
    /// a checkpoint to resume from is named as such, with the command that continues it.
    public func running(_ sessionOrSandbox: String) throws(SandboxError) -> (SandboxSpec, SandboxDirectory) {
        let session = try? sessions.resolveSession(sessionOrSandbox)
        for r in list() where r.pid != nil && (r.session == session || r.sandbox.hasPrefix(sessionOrSandbox.lowercased())) {
            let dir = SandboxDirectory(path: r.directory)
            return (try dir.loadSpec(), dir)
        }
        if let session, let last = try? lastSandboxCheckpoint(session) {
            throw .paused(session: session, checkpoint: last.id)
        }
        throw .sandboxNotFound(sessionOrSandbox)
    }

    /// A session whose sandbox is not running and that has a checkpoint to resume from.
    public struct Resumable: Sendable, Codable {
        public var session: String
        public var checkpoint: String
        public var checkpointedAt: Date
        public var labels: [String: String]
    }

    /// Sessions that are paused (or stopped after a checkpoint): `sandbox resume` continues them.
    public func resumable() throws(SandboxError) -> [Resumable] {
        var live = Set(list().filter { $0.pid != nil }.map(\.session))
        // Sessions a sandbox on another host of a fleet store runs are not paused either.
        if let claims = try? sessions.sandboxClaims() { live.formUnion(claims.filter { $0.host != sessions.claimHost }.map(\.session)) }
        do throws(HistoryError) {
            var found: [Resumable] = []
            for record in try sessions.sessions() where record.checkpoints > 0 && !live.contains(record.id) && record.labels[Self.warmLabel] == nil {
                guard let last = try lastSandboxCheckpoint(record.id) else { continue }
                found.append(Resumable(session: record.id, checkpoint: last.id, checkpointedAt: last.createdAt, labels: record.labels))
            }
            return found
        } catch {
            throw .store(error.description, cause: error)
        }
    }

    /// The session's latest checkpoint that holds a sandbox (a memory image).
    func lastSandboxCheckpoint(_ session: String) throws(HistoryError) -> Checkpoint? {
        try sessions.checkpoints(session).last { $0.record.images["memory"] != nil }
    }

    func record(_ session: String, _ events: [EventInput]) throws(SandboxError) {
        do { try sessions.append(session, events) } catch { throw .store(error.description, cause: error) }
    }

    /// Creates a session (unless given) and boots a fresh VM for it. With `template`, the VM's
    /// root disk is a private copy of the template's (grown to `diskBytes` if that is larger) and
    /// the guest switches into it; without, it boots the guest image with an empty ext4 disk of
    /// `diskBytes` (default 1 GiB) at /mnt/disk. A template with a warm checkpoint of the same
    /// memory size and CPU count (`warm(template:)`) is resumed from it instead of booted, unless
    /// `useWarm` is false, `session` is given or the disk must grow.
    /// `network`: a network card with that egress policy (`NetworkPolicy.parse`); a template's
    /// warm checkpoint has no card, so a sandbox with a network boots.
    public func run(session: String? = nil, template: String? = nil, memoryBytes: Int64 = 256 << 20, diskBytes: Int64? = nil, vcpus: Int = 1,
                    labels: [String: String] = [:], useWarm: Bool = true, network: NetworkPolicy? = nil) throws(SandboxError) -> Running {
        guard memoryBytes >= 64 << 20, memoryBytes % (1 << 20) == 0 else { throw .badArgument("--memory must be whole MiB, at least 64M") }
        if let diskBytes, diskBytes < 16 << 20 { throw .badArgument("--disk must be at least 16M") }
        guard (1...16).contains(vcpus) else { throw .badArgument("--cpus must be from 1 to 16") }
        let guest = try GuestImage.locate(cache: guestCache)
        // Published host ports are checked before a session exists (they are chosen again at
        // the start itself): a port in use leaves nothing behind.
        _ = try network?.choosingHostPorts()
        let rootTemplate = try template.map { (name) throws(SandboxError) in try templateRecord(name) }
        if let rootTemplate, useWarm, session == nil, network == nil, (diskBytes ?? 0) <= rootTemplate.size,
           let warm = warmCheckpoint(of: rootTemplate, memoryBytes: memoryBytes, vcpus: vcpus) {
            return try runWarm(rootTemplate, checkpoint: warm, labels: labels)
        }
        let sessionID: String
        do throws(HistoryError) {
            if let session { sessionID = try sessions.resolveSession(session) } else { sessionID = try sessions.createSession(labels: labels).id }
        } catch {
            throw .store(error.description, cause: error)
        }
        if let existing = try? running(sessionID) { throw .badArgument("session \(sessionID) already runs sandbox \(existing.0.id)") }
        var spec = SandboxSpec(id: "", session: sessionID, memoryBytes: memoryBytes, vcpus: vcpus,
                               accelerator: Accelerator.detect(guest: guest, cache: guestCache),
                               kernelCommandLine: guest.commandLine() + (rootTemplate == nil ? "" : " stasis.root=/dev/vda"),
                               mac: "", vsockCID: 0, machineID: "", disks: ["root"],
                               restoredFrom: nil, createdAt: Date())
        spec.template = rootTemplate?.name
        spec.network = network
        spec.renewIdentity()
        try claim(sessionID, sandbox: spec.id, takeOver: false)
        let dir = SandboxDirectory(path: sandboxesDirectory + "/" + spec.id)
        do {
            try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try FileManager.default.copyItem(atPath: guest.kernel, toPath: dir.kernel)
            try FileManager.default.copyItem(atPath: guest.initrd, toPath: dir.initrd)
            chmod(dir.kernel, 0o444); chmod(dir.initrd, 0o444)
            // The copies become the host's shared read-only boot files once stored (below).
        } catch {
            try? FileManager.default.removeItem(atPath: dir.path)
            try? sessions.releaseSandbox(session: sessionID, sandbox: spec.id)
            throw .io("prepare \(dir.path): \(error)", EIO)
        }
        do throws(SandboxError) {
            try dir.saveSpec(spec)
            if let rootTemplate {
                try makeTemplateDisk(dir.disk("root"), from: rootTemplate, bytes: diskBytes)
            } else {
                try Self.makeDisk(dir.disk("root"), bytes: diskBytes ?? 1 << 30)
            }
            try storeBootFiles(dir)
            let t0 = Date()
            try driver.boot(spec, in: dir)
            try record(sessionID, [EventInput(kind: .note, data: [
                "text": .string("sandbox \(spec.id) booted (\(driver.name), \(spec.accelerator), \(memoryBytes >> 20) MiB\(rootTemplate.map { ", template \($0.name)" } ?? "")) in \(String(format: "%.2f", Date().timeIntervalSince(t0))) s"),
                "sandbox": .string(spec.id), "accelerator": .string(spec.accelerator),
                "template": rootTemplate.map { .string($0.name) } ?? .null])])
        } catch {
            try? driver.stop(dir)
            try? FileManager.default.removeItem(atPath: dir.path)
            try? sessions.releaseSandbox(session: sessionID, sandbox: spec.id)
            throw error
        }
        return Running(sandbox: spec.id, session: sessionID, directory: dir.path, pid: dir.runningPID,
                       memoryBytes: memoryBytes, accelerator: spec.accelerator, restoredFrom: nil, template: spec.template,
                       network: (try? dir.loadSpec())?.network)
    }

    /// Claims `session` for `sandbox` in the catalog, so that no other host of a fleet store runs
    /// it meanwhile. A claim this host left behind (its sandbox is not running here) is taken
    /// over; another host's only with `takeOver`.
    func claim(_ session: String, sandbox: String, takeOver: Bool) throws(SandboxError) {
        var takeOver = takeOver
        if !takeOver, let held = try? sessions.sandboxClaims().first(where: { $0.session == session }), held.host == sessions.claimHost,
           !list().contains(where: { $0.sandbox == held.sandbox && $0.pid != nil }) {
            takeOver = true
        }
        do { try sessions.claimSandbox(session: session, sandbox: sandbox, takeOver: takeOver) } catch {
            if case .badArgument(let field, let message) = error { throw .badArgument("\(field): \(message)") }
            throw .store(error.description, cause: error)
        }
    }

    /// Stores the kernel and initrd once, when the sandbox is created, and remembers their blob
    /// ids in the sandbox directory: every checkpoint names them without reading them again.
    func storeBootFiles(_ dir: SandboxDirectory) throws(SandboxError) {
        var ids: [String: JSONValue] = [:]
        for (name, path) in [("kernel", dir.kernel), ("initrd", dir.initrd)] {
            guard let bytes = FileManager.default.contents(atPath: path) else { throw .io("read \(path)", EIO) }
            let id: String
            do { id = try sessions.store.putBlob([UInt8](bytes)).id } catch { throw .store(error.description, cause: error) }
            ids[name] = .string(id)
            // Keep one read-only copy per host; the sandbox links to it.
            let cache = BootFileCache(store: sessions.store)
            try cache.adopt(path, as: id)
            do { try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: cache.path(for: id)) } catch {
                throw .io("link \(path)", EIO)
            }
        }
        FileManager.default.createFile(atPath: dir.path + "/blob-ids.json", contents: Data(JSONValue.object(ids).canonicalBytes), attributes: [.posixPermissions: 0o400])
    }

    /// A sparse ext4 disk made with mkfs.ext4 (e2fsprogs), never mounted on the host.
    static func makeDisk(_ path: String, bytes: Int64) throws(SandboxError) {
        let mkfs = ["/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let mkfs else { throw .badArgument("mkfs.ext4 is missing: install e2fsprogs") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: mkfs)
        p.arguments = ["-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", path, "\(bytes / 1024)k"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw .io("run mkfs.ext4", EIO) }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw .io("mkfs.ext4 \(path)", EIO) }
    }

    public struct CheckpointResult: Sendable, Codable {
        public var checkpoint: String
        public var session: String
        public var downtimeMs: Double
        public var durableMs: Double
        public var storedBytes: Int64
        public var stopped: Bool
        /// Bytes of guest memory copied in the pause, and read and hashed by the capture.
        public var memoryCopiedBytes: Int64 = 0
        public var memoryReadBytes: Int64?
        /// The image a lazily restored guest's memory was captured against (only the chunks it
        /// wrote were read), or nil when all of memory was.
        public var memoryBase: String?
    }

    /// One pause captures device state, memory and disks; the VM then continues (or, with
    /// `stop`, is ended and its directory freed). The files go into the store as one checkpoint
    /// bound to the history position. If anything fails the VM is left running and nothing is
    /// committed.
    public func checkpoint(_ sessionOrSandbox: String, stop: Bool = false, labels: [String: String] = [:],
                           progress: any ProgressReporter = SilentProgress()) throws(SandboxError) -> CheckpointResult {
        let (spec, dir) = try running(sessionOrSandbox)
        let t0 = Date()
        // A lazily restored guest's memory: only what it wrote since, against the image it was
        // restored from (Formats/lazy-restore.md).
        let captured = try driver.capture(spec, dir, into: dir.checkpointScratch, stopAfter: stop, dirtyMemory: DirtyMap.dirtyMemory(of: dir))
        defer { try? FileManager.default.removeItem(atPath: dir.checkpointScratch) }
        var images = [CheckpointSpec.ImageFile(name: "memory", path: captured.memory,
                                               dirty: captured.memoryBase.map { _ in captured.memory }, base: captured.memoryBase)]
        for (name, path) in captured.disks.sorted(by: { $0.key < $1.key }) { images.append(.init(name: "disk:" + name, path: path)) }
        var config = spec
        config.restoredFrom = nil
        let configPath = dir.checkpointScratch + "/config.json"
        FileManager.default.createFile(atPath: configPath, contents: config.json)
        // The kernel and initrd are the same read-only files for every checkpoint of a sandbox:
        // stored once, then named by the id remembered in the sandbox directory.
        let known = (try? JSONValue.parse(Array((FileManager.default.contents(atPath: dir.path + "/blob-ids.json") ?? Data()))))?.objectValue ?? [:]
        let cpSpec = CheckpointSpec(images: images,
                                    blobs: [.init(name: "state", path: captured.state), .init(name: "config", path: configPath),
                                            .init(name: "kernel", path: dir.kernel, knownID: known["kernel"]?.stringValue),
                                            .init(name: "initrd", path: dir.initrd, knownID: known["initrd"]?.stringValue)],
                                    labels: labels,
                                    meta: ["downtime_ms": .double((captured.downtimeMs * 100).rounded() / 100), "accelerator": .string(spec.accelerator),
                                           "driver": .string(driver.name), "sandbox": .string(spec.id), "memory_bytes": .int(spec.memoryBytes),
                                           "guest_sync": .string(captured.guestSync),
                                           "memory_capture": .string(captured.memoryCapture.recordValue)].merging(Self.liveMeta(captured.memoryCapture)) { a, _ in a })
        let checkpoint: Checkpoint
        let statsBefore = (try? sessions.store.stats().storeBytes) ?? 0
        do { checkpoint = try sessions.createCheckpoint(spec.session, cpSpec, progress: progress) } catch {
            throw .store("checkpoint of sandbox \(spec.id) not committed (the VM \(stop ? "was stopped" : "keeps running")): \(error.description)", cause: error)
        }
        let durable = Date().timeIntervalSince(t0) * 1000
        // The paused copies are exactly these images: keep them as local bases for restores.
        let cache = BaseCache(store: sessions.store)
        // (Not a copy of the written ranges only: the rest of it is holes.)
        if captured.memoryBase == nil { cache.adopt(captured.memory, as: checkpoint.record.images["memory"]!) }
        for (name, path) in captured.disks { cache.adopt(path, as: checkpoint.record.images["disk:" + name]!) }
        if stop {
            try? driver.stop(dir)
            PageServerLauncher.release(dir)
            try? sessions.releaseSandbox(session: spec.session, sandbox: spec.id)
            try? FileManager.default.removeItem(atPath: dir.path)
        }
        let stored = ((try? sessions.store.stats().storeBytes) ?? 0) - statsBefore
        return CheckpointResult(checkpoint: checkpoint.id, session: spec.session, downtimeMs: captured.downtimeMs,
                                durableMs: durable, storedBytes: stored, stopped: stop,
                                memoryCopiedBytes: captured.memoryBytesRead, memoryReadBytes: checkpoint.imageReadBytes["memory"],
                                memoryBase: captured.memoryBase)
    }

    /// Restores a checkpoint (default: the session's latest) into a fresh sandbox and continues it.
    public func resume(_ sessionIDOrPrefix: String, checkpoint: String? = nil, takeOver: Bool = false, eager: Bool = false,
                       progress: any ProgressReporter = SilentProgress()) throws(SandboxError) -> RestoreResult {
        let session: String
        let target: String
        do {
            session = try sessions.resolveSession(sessionIDOrPrefix)
            if let checkpoint { target = try sessions.checkpoint(checkpoint).id } else {
                guard let last = try sessions.checkpoints(session).last(where: { $0.record.images["memory"] != nil }) else {
                    throw SandboxError.badArgument("session \(session) has no sandbox checkpoint to resume from")
                }
                target = last.id
            }
        } catch let e as SandboxError { throw e } catch { throw .store("\(error)", cause: error) }
        if let running = try? running(session) {
            throw .badArgument("session \(session) already runs sandbox \(running.0.id): stop or pause it first, or fork with `stasis restore CHECKPOINT --start`")
        }
        return try restore(target, start: true, intoSession: session, takeOver: takeOver, eager: eager, progress: progress)
    }

    /// Plans and executes a restore. Without `intoSession` it is a fork: the new sandbox gets a
    /// session of its own (labelled with where it came from), whose history starts with the
    /// `restore` event; the checkpoint's session records the fork too. `resume` restores into
    /// the same session instead. A started restore serves memory lazily when this service has a
    /// page server, unless `eager` (Formats/lazy-restore.md).
    public func restore(_ checkpoint: String, start: Bool, directory: String? = nil, intoSession: String? = nil,
                        labels: [String: String] = [:],
                        takeOver: Bool = false, eager: Bool = false, progress: any ProgressReporter = SilentProgress()) throws(SandboxError) -> RestoreResult {
        let guest = try? GuestImage.locate(cache: guestCache)
        let accel = guest.map { Accelerator.detect(guest: $0, cache: guestCache) } ?? "tcg"
        let plan = try planner.plan(checkpoint, accelerator: accel, directory: directory, lazyMemory: start && !eager && pageServer != nil)
        let session: String
        if let intoSession { session = intoSession } else {
            let forkLabels = labels.merging(["forked_from": plan.session, "checkpoint": plan.checkpoint]) { _, ours in ours }
            do { session = try sessions.createSession(labels: forkLabels).id } catch {
                throw .store(error.description, cause: error)
            }
        }
        if start { try claim(session, sandbox: plan.identity.sandbox, takeOver: takeOver) }
        var result: RestoreResult
        do { result = try executor.execute(plan, start: start, session: session, progress: progress) } catch {
            if start { try? sessions.releaseSandbox(session: session, sandbox: plan.identity.sandbox) }
            if intoSession == nil { _ = try? sessions.removeSession(session) }
            throw error
        }
        let event = EventInput(kind: .restore, data: [
            "checkpoint": .string(plan.checkpoint), "sandbox": .string(plan.identity.sandbox), "started": .bool(start),
            "session": .string(session), "start_ms": .double((result.startSeconds * 1000).rounded())])
        try record(session, [event])
        if session != plan.session { try record(plan.session, [event]) }
        result.session = session
        return result
    }

    /// The plan of a started restore (`eager` as for `restore`).
    public func plan(_ checkpoint: String, eager: Bool = false) throws(SandboxError) -> RestorePlan {
        let guest = try? GuestImage.locate(cache: guestCache)
        return try planner.plan(checkpoint, accelerator: guest.map { Accelerator.detect(guest: $0, cache: guestCache) } ?? "tcg", withSources: true,
                                lazyMemory: !eager && pageServer != nil)
    }

    /// Stops a session's sandbox and removes its directory (its checkpoints stay). A sandbox
    /// whose QEMU already died (a crash, a reboot of the host) is cleaned up the same way.
    /// What `stop` does with a running guest's work since its last checkpoint.
    public enum UnsavedWork: Sendable {
        /// Refuse to stop a sandbox whose session did something after its last checkpoint.
        case refuse
        /// Take a checkpoint, then stop (a pause).
        case checkpoint
        /// Throw it away.
        case discard
    }

    /// Stops a sandbox and removes its directory; the session's checkpoints stay. A running
    /// sandbox whose session recorded events after its last checkpoint is refused unless
    /// `unsaved` says to checkpoint or discard.
    /// What a live checkpoint adds to the record: how long the guest ran while its memory was
    /// copied, and how many pages the dirty tracking missed (copied while it was stopped).
    static func liveMeta(_ capture: MemoryCapture) -> [String: JSONValue] {
        if case .dirtyMap(let bytes) = capture { return ["memory_dirty_bytes": .int(bytes)] }
        guard case .live(let precopyMs, _, let patched) = capture else { return [:] }
        return ["live_precopy_ms": .double((precopyMs * 10).rounded() / 10), "live_pages_patched": .int(Int64(patched))]
    }

    public func stop(_ sessionOrSandbox: String, unsaved: UnsavedWork = .refuse) throws(SandboxError) -> String {
        let found: (SandboxSpec, SandboxDirectory)
        if let live = try? running(sessionOrSandbox) {
            found = live
        } else {
            let session = try? sessions.resolveSession(sessionOrSandbox)
            guard let r = list().first(where: { $0.session == session || $0.sandbox.hasPrefix(sessionOrSandbox.lowercased()) }) else {
                throw .sandboxNotFound(sessionOrSandbox)
            }
            let dir = SandboxDirectory(path: r.directory)
            found = (try dir.loadSpec(), dir)
        }
        let (spec, dir) = found
        if dir.runningPID != nil {
            switch unsaved {
            case .discard: break
            case .checkpoint:
                _ = try checkpoint(spec.id, stop: true)
                return spec.id
            case .refuse:
                if let since = try unsavedEvents(spec.session) {
                    throw .unsavedWork(sandbox: spec.id, session: spec.session, events: since)
                }
            }
        }
        try driver.stop(dir)
        PageServerLauncher.release(dir)
        try? FileManager.default.removeItem(atPath: dir.path)
        try? sessions.releaseSandbox(session: spec.session, sandbox: spec.id)
        try? record(spec.session, [EventInput(kind: .note, data: ["text": .string("sandbox \(spec.id) stopped"), "sandbox": .string(spec.id)])])
        return spec.id
    }

    /// How many events of work (commands, output, files, tool calls, messages) the session
    /// recorded after its last checkpoint; nil when none (checkpoints, restores and notes are not
    /// work a stop would lose).
    private func unsavedEvents(_ session: String) throws(SandboxError) -> Int64? {
        let work: Set<EventKind> = [.commandStarted, .output, .commandExited, .fileWritten, .toolCall, .toolResult, .message]
        do throws(HistoryError) {
            let lastCheckpoint = try sessions.events(session, EventQuery(kinds: [.checkpoint], last: 1)).last?.seq ?? -1
            let since = Int64(try sessions.events(session, EventQuery(since: lastCheckpoint + 1, kinds: work)).count)
            return since > 0 ? since : nil
        } catch {
            throw .store(error.description, cause: error)
        }
    }
}
