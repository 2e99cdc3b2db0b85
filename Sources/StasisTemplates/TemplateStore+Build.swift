import Foundation
import StasisStore
#if canImport(Glibc)
import Glibc
#endif

extension TemplateStore {
    /// What a build did.
    public struct BuildResult: Sendable, Codable {
        public var template: TemplateRecord
        public var layers: Int
        /// Bytes the capture wrote to new packs: what this template added to the store.
        public var storedBytes: Int64
        public var alreadyStored: Bool
        public var seconds: Double
    }

    /// Builds a template: the root tree (layers applied in order with their whiteouts, or a
    /// cached debootstrap), the guest's files under `/.stasis`, an ext4 image of it, captured
    /// into the store, then the catalog row. All or nothing: a refused layer, a failed tool or a
    /// taken name leave the store and the catalog as they were (an image captured just before a
    /// name conflict is removed again).
    public func build(_ name: String, from source: TemplateSource, scratchDirectory: String? = nil,
                      progress: any ProgressReporter = SilentProgress(), log: (String) -> Void = { _ in }) throws(TemplateError) -> BuildResult {
        let started = Date()
        try TemplateRecord.validate(name: name)
        if (try? template(name)) != nil { throw .exists(name: name) }
        let scratch = try Self.makeScratch(in: scratchDirectory ?? NSTemporaryDirectory())
        defer { _ = try? RootTree(path: scratch).remove(scratch) }

        var config: TemplateConfig
        let tree: String
        var layerCount = 0
        switch source {
        case .oci(let path):
            let image = try OCIImage.open(path, scratch: scratch)
            tree = scratch + "/rootfs"
            guard mkdir(tree, 0o755) == 0 else { throw .io("mkdir \(tree)", errno) }
            let total = image.layers.reduce(Int64(0)) { $0 + Self.fileSize($1.blob) }
            progress.begin("layers", total: total)
            for (i, layer) in image.layers.enumerated() {
                try Self.applyLayer(layer, index: i, to: RootTree(path: tree), scratch: scratch)
                progress.advance(by: Self.fileSize(layer.blob))
            }
            progress.end()
            layerCount = image.layers.count
            config = image.config
            try config.resolveUser(in: tree, source: path)
        case .debian(let suite, let packages, let mirror):
            tree = try DebianBootstrap.tree(suite: suite, packages: packages, mirror: mirror, cache: cacheDirectory, log: log)
            config = TemplateConfig(env: ["PATH=\(TemplateConfig.defaultPath)", "LANG=C.UTF-8"], workingDir: "/root")
        }
        try Self.writeGuestFiles(config, into: tree)
        // A runtime makes the working directory when the image lacks it; so does the template.
        if let parts = try RootTree.components(config.workingDir, layer: "config.WorkingDir") {
            let dir = try RootTree(path: tree).hostPath(parts, entry: config.workingDir, layer: "config.WorkingDir")
            var st = stat()
            if lstat(dir, &st) != 0, mkdir(dir, 0o755) != 0 { throw .io("mkdir \(dir)", errno) }
        }

        let (bytes, inodes) = RootDisk.measure(tree)
        let diskBytes = RootDisk.size(forTreeBytes: bytes, inodes: inodes)
        let image = scratch + "/root.ext4"
        log("making a \(diskBytes >> 20) MiB ext4 root disk from \(bytes >> 20) MiB of files")
        try RootDisk.make(image, from: tree, bytes: diskBytes, seed: name)

        let captured: CaptureResult
        do { captured = try store.capture(image, progress: progress) } catch { throw .store(error) }
        let record = TemplateRecord(name: name, imageID: captured.image.id, source: source.description, config: config,
                                    size: captured.image.size, dataBytes: bytes, warmCheckpoint: nil,
                                    // As the catalog gives it back (Unix seconds), so a read compares equal.
                                    createdAt: Date(timeIntervalSince1970: Date().timeIntervalSince1970))
        do { try insert(record) } catch {
            if !captured.alreadyStored, (try? list().contains { $0.imageID == captured.image.id }) == false {
                _ = try? store.removeImage(captured.image.id)
            }
            throw error
        }
        return BuildResult(template: record, layers: layerCount, storedBytes: captured.storedBytes,
                           alreadyStored: captured.alreadyStored, seconds: Date().timeIntervalSince(started))
    }

    /// Checks a layer's digest, uncompresses it if needed (gzip or zstd), checks the
    /// uncompressed digest a legacy config names, and applies it.
    static func applyLayer(_ layer: OCIImage.Layer, index: Int, to tree: RootTree, scratch: String) throws(TemplateError) {
        if let digest = layer.digest {
            let found = try fileDigest(layer.blob)
            guard found == digest else { throw .digestMismatch(layer: "\(index) (\(digest))", expected: digest, found: found) }
        }
        var tar = layer.blob
        let magic = Self.magic(layer.blob)
        let tool: String? = magic.starts(with: [0x1f, 0x8b]) ? "gzip" : magic.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) ? "zstd" : nil
        if let tool {
            tar = scratch + "/layer-\(index).tar"
            do { try ToolProcess.run(tool, ["-dc", layer.blob], stdout: tar, hint: "install \(tool)") } catch {
                if case .tool(_, let message) = error, message.contains("unexpected end") || message.contains("truncated") {
                    throw .truncated(layer: "\(index) (\(layer.name))", entry: nil)
                }
                throw .badImage(source: "layer \(index) (\(layer.name))", message: "cannot uncompress it: \(error)")
            }
        }
        defer { if tar != layer.blob { unlink(tar) } }
        if let diffID = layer.diffID {
            let found = try fileDigest(tar)
            guard found == diffID else { throw .digestMismatch(layer: "\(index) (\(layer.name))", expected: diffID, found: found) }
        }
        try tree.apply(layerFile: tar, layer: "\(index) (\(layer.name))")
    }

    static func fileSize(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : 0
    }

    private static func magic(_ path: String) -> [UInt8] {
        guard let h = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? h.close() }
        return [UInt8]((try? h.read(upToCount: 4)) ?? Data())
    }

    /// `/.stasis/template.env` and `template.user` (read by the guest agent), and the empty
    /// `/.stasis/guest` the guest mounts its busybox and agent on.
    static func writeGuestFiles(_ config: TemplateConfig, into tree: String) throws(TemplateError) {
        let dir = tree + "/.stasis"
        var st = stat()
        if lstat(dir, &st) == 0, st.st_mode & S_IFMT != S_IFDIR { try RootTree(path: tree).remove(dir) }
        for d in [dir, dir + "/guest"] where lstat(d, &st) != 0 {
            guard mkdir(d, 0o755) == 0 else { throw .io("mkdir \(d)", errno) }
        }
        for (file, text) in [("template.env", config.profile), ("template.user", config.userLine)] {
            let path = dir + "/" + file
            unlink(path)
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]) else {
                throw .io("write \(path)", errno)
            }
        }
    }

    static func makeScratch(in parent: String) throws(TemplateError) -> String {
        var template = Array((parent + "/stasis-template-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { throw .io("mkdtemp in \(parent)", errno) }
        return String(cString: made)
    }
}
