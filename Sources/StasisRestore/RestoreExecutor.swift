import Crypto
import Foundation
import StasisIO
import StasisJSON
import StasisSandbox
import StasisSessions
import StasisStore

/// What a restore did.
public struct RestoreResult: Sendable, Codable {
    public var plan: RestorePlan
    public var started: Bool
    public var checks: [String]
    /// Seconds: materializing files, starting the VM until the guest answered.
    public var materializeSeconds: Double
    public var startSeconds: Double
    public var patchedFromBase: [String: String]
    /// Memory was mounted lazily (a page server fetches it on first touch and in the background).
    public var lazyMemory: Bool = false
    /// The session the restored sandbox runs for (set by `SandboxService.restore`).
    public var session: String?
}

/// Carries out a restore plan: writes every file (verified), checks isolation and consistency,
/// and only then starts the VM. A failure before the start removes the directory; a failure
/// while starting stops QEMU and removes it too — no sandbox ever runs from inconsistent files.
public struct RestoreExecutor: Sendable {
    public let sessions: SessionStore
    public let driver: any SandboxDriver
    /// Starts the page server of images the plan marks lazy; a plan with a lazy image and no
    /// launcher is refused.
    public let pageServer: PageServerLauncher?

    public init(sessions: SessionStore, driver: any SandboxDriver, pageServer: PageServerLauncher? = nil) {
        self.sessions = sessions
        self.driver = driver
        self.pageServer = pageServer
    }

    /// `session` is the session the new sandbox belongs to (default: the checkpoint's).
    public func execute(_ plan: RestorePlan, start: Bool, session: String? = nil, progress: any ProgressReporter = SilentProgress()) throws(SandboxError) -> RestoreResult {
        let dir = SandboxDirectory(path: plan.directory)
        if FileManager.default.fileExists(atPath: dir.path) { throw .sandboxExists(dir.path) }
        do { try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
            throw .io("create \(dir.path)", EIO)
        }
        var keep = false
        defer {
            if !keep {
                try? driver.stop(dir)
                PageServerLauncher.release(dir)
                try? FileManager.default.removeItem(atPath: dir.path)
            }
        }

        let t0 = Date()
        var spec: SandboxSpec?
        let bootFiles = BootFileCache(store: sessions.store)
        for blob in plan.blobs {
            if blob.name == "kernel" || blob.name == "initrd" {
                // Shared read-only bases: a link to the host's cached copy.
                let shared = try bootFiles.ensure(blob.blob)
                do { try FileManager.default.createSymbolicLink(atPath: blob.file, withDestinationPath: shared) } catch {
                    throw .io("link \(blob.file) to \(shared)", EIO)
                }
                continue
            }
            let bytes: [UInt8]
            do { bytes = try sessions.store.blob(blob.blob) } catch { throw .store(error.description, cause: error) }
            if blob.name == "config" {
                guard var s = SandboxSpec.decode(Data(bytes)) else { throw .inconsistent("the config blob \(blob.blob) is not a sandbox description") }
                s.id = plan.identity.sandbox; s.mac = plan.identity.mac; s.vsockCID = plan.identity.vsockCID
                s.machineID = plan.identity.machineID; s.restoredFrom = plan.checkpoint; s.createdAt = Date()
                s.session = session ?? plan.session
                spec = s
                try dir.saveSpec(s)
            } else {
                guard FileManager.default.createFile(atPath: blob.file, contents: Data(bytes), attributes: [.posixPermissions: blob.writable ? 0o600 : 0o444]) else {
                    throw .io("write \(blob.file)", EIO)
                }
            }
        }
        guard let spec else { throw .inconsistent("checkpoint \(plan.checkpoint) has no config blob") }
        // The next checkpoint of this sandbox names the same kernel and initrd blobs.
        let boot = plan.blobs.filter { $0.name == "kernel" || $0.name == "initrd" }
        let ids = JSONValue.object(Dictionary(uniqueKeysWithValues: boot.map { ($0.name, JSONValue.string($0.blob)) }))
        FileManager.default.createFile(atPath: dir.path + "/blob-ids.json", contents: Data(ids.canonicalBytes), attributes: [.posixPermissions: 0o400])
        var patched: [String: String] = [:]
        let cache = BaseCache(store: sessions.store)
        for image in plan.images where image.lazy {
            guard let pageServer else {
                throw .badArgument("the plan serves \(image.name) lazily, but this restore has no page server to run (restore eagerly instead)")
            }
            try pageServer.start(store: sessions.store.layout.root, image: image.image, checkpoint: plan.checkpoint, in: dir, sandbox: plan.identity.sandbox)
        }
        for image in plan.images where !image.lazy {
            let base = image.base.map { MaterializeBase(imageID: $0, path: cache.path(for: $0)) }
            // A base is read without re-hashing it, so it must be the sealed file, before and
            // after the copy (a write in between moves its change time).
            if let id = image.base { try cache.checkSeal(id, checkpoint: plan.checkpoint) }
            do {
                let r = try sessions.store.materialize(image.image, to: image.file, base: base, progress: progress)
                if let b = r.base { patched[image.name] = b }
            } catch {
                throw .store("materializing \(image.name) (\(image.image)): \(error.description)", cause: error)
            }
            if let id = image.base { try cache.checkSeal(id, checkpoint: plan.checkpoint) }
            chmod(image.file, 0o600)
        }
        let materializeSeconds = Date().timeIntervalSince(t0)
        let checks = try verify(plan, dir: dir, spec: spec)

        var startSeconds = 0.0
        if start {
            let t1 = Date()
            do { try driver.resume(spec, in: dir) } catch {
                // A page server that stopped the VM knows why: the chunk and the cause.
                if let status = PageServerStatus.load(dir), status.state == .failed {
                    throw .lazyMemory(sandbox: spec.id, detail: status.error ?? "unknown")
                }
                throw error
            }
            pageServer?.handOff(dir)
            startSeconds = Date().timeIntervalSince(t1)
            // The clone is a new machine: new machine id, fresh entropy.
            let seed = (0..<64).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            _ = try? driver.exec(dir, "echo \(spec.machineID) > /etc/machine-id 2>/dev/null; echo \(seed) > /dev/urandom", timeout: 10)
        }
        keep = true
        return RestoreResult(plan: plan, started: start, checks: checks, materializeSeconds: materializeSeconds,
                             startSeconds: startSeconds, patchedFromBase: patched, lazyMemory: plan.images.contains { $0.lazy })
    }

    /// The isolation and consistency checks the plan lists; throws before any start.
    func verify(_ plan: RestorePlan, dir: SandboxDirectory, spec: SandboxSpec) throws(SandboxError) -> [String] {
        var done: [String] = []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        let bootFiles = BootFileCache(store: sessions.store)
        var shared = 0
        for name in names {
            var st = stat()
            guard lstat(dir.path + "/" + name, &st) == 0 else { throw .inconsistent("cannot stat \(dir.path)/\(name)") }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                guard bootFiles.isSharedBase(dir.path + "/" + name), name == "vmlinux" || name == "initrd.img" else {
                    throw .inconsistent("\(name) in the new sandbox links outside the read-only boot file cache")
                }
                shared += 1
                continue
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw .inconsistent("\(name) in the new sandbox is not a regular file") }
            guard st.st_nlink == 1 else { throw .inconsistent("\(name) in the new sandbox has \(st.st_nlink) links: it is shared") }
        }
        done.append("\(names.count - shared) private files (regular, one link each) and \(shared) links to shared read-only boot files")
        for blob in plan.blobs where !blob.writable {
            let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: blob.file)) ?? blob.file
            guard let attrs = try? FileManager.default.attributesOfItem(atPath: resolved),
                  (attrs[.posixPermissions] as? Int) == 0o444 else { throw .inconsistent("\(blob.file) is not read-only") }
        }
        for blob in plan.blobs where blob.name == "kernel" || blob.name == "initrd" { try bootFiles.checkSeal(blob.blob) }
        done.append("kernel, initrd and state are mode 0444; the shared kernel and initrd match their seals")
        for image in plan.images {
            let size = (try? FileSystem.fileSize(image.file)) ?? -1
            guard size == image.size else { throw .inconsistent("\(image.file) is \(size) bytes, but image \(image.image) has \(image.size)") }
        }
        if let state = plan.blobs.first(where: { $0.name == "state" }) {
            let bytes = FileManager.default.contents(atPath: state.file) ?? Data()
            guard StoreKey.hex(SHA256.hash(data: bytes)) == state.blob else {
                throw .inconsistent("state.bin does not hash to the checkpoint's state blob \(state.blob): memory, disk and device state would not belong together")
            }
        }
        done.append("memory, disks and state belong to checkpoint \(plan.checkpoint)")
        for path in [dir.qmp, dir.agent] where FileManager.default.fileExists(atPath: path) {
            throw .inconsistent("\(path) exists before the VM starts")
        }
        done.append("sockets are new and unused")
        if let old = plan.previousIdentity {
            guard old.sandbox != spec.id, old.mac != spec.mac, old.machineID != spec.machineID else { throw .inconsistent("the clone's identity equals the original's") }
        }
        done.append("new identity: sandbox \(spec.id), MAC \(spec.mac), CID \(spec.vsockCID)")
        return done
    }
}
