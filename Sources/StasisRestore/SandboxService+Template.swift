import Foundation
import StasisIO
import StasisSandbox
import StasisStore
import StasisTemplates

extension SandboxService {
    var templates: TemplateStore { TemplateStore(store: sessions.store) }

    func templateRecord(_ name: String) throws(SandboxError) -> TemplateRecord {
        do { return try templates.template(name) } catch {
            switch error {
            case .badName, .notFound: throw .badArgument(error.description)
            default: throw .store(error.description, cause: error)
            }
        }
    }

    /// The sandbox's private root disk: a copy of the template's image (the holes stay holes),
    /// grown to `bytes` with resize2fs when that is larger. The image itself is materialized
    /// once per host into the read-only, sealed base cache and shared by every sandbox made
    /// from it; the copy is what the sandbox writes to, and its checkpoints store only the
    /// chunks that differ from the template (the store already holds the rest).
    func makeTemplateDisk(_ path: String, from template: TemplateRecord, bytes: Int64?) throws(SandboxError) {
        let base = try templateBase(template)
        do { _ = try FileSystem.sparseCopy(from: base, to: path) } catch {
            throw .io("copy the root disk of template \(template.name) to \(path)", error.errno.rawValue)
        }
        chmod(path, 0o600)
        if let bytes, bytes > template.size {
            guard truncate(path, off_t(bytes)) == 0 else { throw .io("grow \(path)", errno) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ["/usr/sbin/resize2fs", "/sbin/resize2fs"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/sbin/resize2fs")
            p.arguments = ["-f", path]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            do { try p.run() } catch { throw .io("run resize2fs", EIO) }
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw .io("resize2fs \(path) to \(bytes) bytes", EIO) }
        }
    }

    /// The template's image as a local read-only file: from the base cache (its seal checked),
    /// else materialized from the store (every chunk verified) and adopted there.
    func templateBase(_ template: TemplateRecord) throws(SandboxError) -> String {
        let cache = BaseCache(store: sessions.store)
        if cache.contains(template.imageID) {
            try cache.checkSeal(template.imageID, checkpoint: "template \(template.name)")
            return cache.path(for: template.imageID)
        }
        try? FileSystem.createDirectory(cache.directory, permissions: 0o700)
        let scratch = cache.directory + "/.template-\(template.imageID.prefix(16))-\(getpid())"
        try? FileManager.default.removeItem(atPath: scratch)
        do { _ = try sessions.store.materialize(template.imageID, to: scratch) } catch {
            throw .store("materialize the root disk of template \(template.name): \(error.description)", cause: error)
        }
        cache.adopt(scratch, as: template.imageID)
        guard cache.contains(template.imageID) else {
            throw .io("keep the root disk of template \(template.name) in \(cache.directory)", EIO)
        }
        return cache.path(for: template.imageID)
    }
}

// MARK: - Warm templates

extension SandboxService {
    /// The label of the session that boots a template once for its warm checkpoint (not listed
    /// as a paused session: nobody resumes it, sandboxes fork from it).
    static let warmLabel = "stasis_template_warm"

    /// Boots the template once, pauses it, and records that checkpoint as the template's warm
    /// start: `run(template:)` with the same memory and CPUs then restores it into a new
    /// session instead of booting (a fork of the first boot, with a new identity).
    public func warm(template name: String, memoryBytes: Int64 = 512 << 20, vcpus: Int = 1,
                     progress: any ProgressReporter = SilentProgress()) throws(SandboxError) -> CheckpointResult {
        _ = try templateRecord(name)
        let run = try self.run(template: name, memoryBytes: memoryBytes, vcpus: vcpus, labels: [Self.warmLabel: name], useWarm: false)
        let paused = try checkpoint(run.session, stop: true, labels: ["template": name, "vcpus": String(vcpus)], progress: progress)
        do { try templates.setWarmCheckpoint(name, paused.checkpoint) } catch { throw .store(error.description, cause: error) }
        return paused
    }

    /// The template's warm checkpoint, if it has one made with this memory size and CPU count.
    func warmCheckpoint(of template: TemplateRecord, memoryBytes: Int64, vcpus: Int) -> String? {
        guard let id = template.warmCheckpoint, let checkpoint = try? sessions.checkpoint(id) else { return nil }
        guard checkpoint.record.meta["memory_bytes"]?.intValue == memoryBytes,
              checkpoint.record.labels["vcpus"] == String(vcpus) else { return nil }
        return checkpoint.id
    }

    /// A new session whose sandbox is restored from the template's warm checkpoint.
    func runWarm(_ template: TemplateRecord, checkpoint: String, labels: [String: String]) throws(SandboxError) -> Running {
        let r = try restore(checkpoint, start: true, labels: labels.merging(["template": template.name]) { ours, _ in ours })
        let spec = try SandboxDirectory(path: r.plan.directory).loadSpec()
        return Running(sandbox: spec.id, session: r.session ?? spec.session, directory: r.plan.directory,
                       pid: SandboxDirectory(path: r.plan.directory).runningPID, memoryBytes: spec.memoryBytes,
                       accelerator: spec.accelerator, restoredFrom: checkpoint, template: template.name)
    }
}
