import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An image read from an OCI image layout directory (`oci-layout`, `index.json`, `blobs/`) or a
/// `docker save` tarball (the legacy `manifest.json` form, or the OCI layout newer Dockers put
/// inside it): its config and its layers, in order, each checked against its digest.
struct OCIImage {
    struct Layer {
        /// How errors name it: its digest (or file name for legacy tarballs).
        var name: String
        /// The layer as stored (compressed or not).
        var blob: String
        /// The digest of `blob` named by the manifest (OCI), or of the uncompressed tar (the
        /// config's `rootfs.diff_ids`, for legacy tarballs).
        var digest: String?
        var diffID: String?
    }

    var config: TemplateConfig
    var layers: [Layer]
    var source: String

    /// Reads the image at `source`. A tarball is unpacked into `scratch` first (its entries are
    /// checked like a layer's).
    static func open(_ source: String, scratch: String) throws(TemplateError) -> OCIImage {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw .badImage(source: source, message: "no such file or directory")
        }
        var root = source
        if !isDirectory.boolValue {
            root = scratch + "/image"
            guard mkdir(root, 0o700) == 0 else { throw .io("mkdir \(root)", errno) }
            try RootTree(path: root).apply(layerFile: source, layer: (source as NSString).lastPathComponent)
        }
        if FileManager.default.fileExists(atPath: root + "/index.json") {
            return try layout(root, source: source)
        }
        if FileManager.default.fileExists(atPath: root + "/manifest.json") {
            return try legacy(root, source: source)
        }
        throw .badImage(source: source, message: "neither an OCI image layout (index.json) nor a `docker save` tarball (manifest.json)")
    }

    // MARK: - OCI layout

    private static func layout(_ root: String, source: String) throws(TemplateError) -> OCIImage {
        var descriptor = try json(root + "/index.json", source: source)
        // An index may name further indexes (multi-platform images): follow to a manifest,
        // preferring linux/amd64.
        for _ in 0..<4 {
            guard let manifests = descriptor["manifests"] as? [[String: Any]], !manifests.isEmpty else {
                throw .badImage(source: source, message: "the index lists no manifests")
            }
            let chosen = manifests.first { d in
                let p = d["platform"] as? [String: Any]
                return p == nil || (p?["os"] as? String == "linux" && p?["architecture"] as? String == "amd64")
            } ?? manifests[0]
            let data = try blob(root, chosen, what: "manifest", source: source)
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw .badImage(source: source, message: "manifest \(chosen["digest"] as? String ?? "?") is not a JSON object")
            }
            if object["layers"] != nil {
                guard let configDescriptor = object["config"] as? [String: Any] else {
                    throw .badImage(source: source, message: "manifest \(chosen["digest"] as? String ?? "?") names no config")
                }
                let configName = configDescriptor["digest"] as? String ?? "config"
                let configData = try blob(root, configDescriptor, what: "config", source: source)
                let config = try TemplateConfig.parse(configData, source: configName)
                var layers: [Layer] = []
                for (i, d) in ((object["layers"] as? [[String: Any]]) ?? []).enumerated() {
                    guard let digest = d["digest"] as? String else { throw .badImage(source: source, message: "layer \(i) has no digest") }
                    let path = try blobPath(root, digest: digest, what: "layer \(i)", source: source)
                    layers.append(Layer(name: digest, blob: path, digest: digest, diffID: nil))
                }
                return OCIImage(config: config, layers: layers, source: source)
            }
            descriptor = object
        }
        throw .badImage(source: source, message: "indexes nest too deep")
    }

    private static func blobPath(_ root: String, digest: String, what: String, source: String) throws(TemplateError) -> String {
        let parts = digest.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0] == "sha256", parts[1].count == 64, parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw .badImage(source: source, message: "\(what): digest '\(digest)' is not sha256:<64 hex digits>")
        }
        let path = root + "/blobs/sha256/" + parts[1]
        guard FileManager.default.fileExists(atPath: path) else {
            throw .badImage(source: source, message: "\(what) \(digest) is missing (no blobs/sha256/\(parts[1]))")
        }
        return path
    }

    /// A small blob (index, manifest, config), read and checked against its digest.
    private static func blob(_ root: String, _ d: [String: Any], what: String, source: String) throws(TemplateError) -> Data {
        guard let digest = d["digest"] as? String else { throw .badImage(source: source, message: "the \(what) descriptor has no digest") }
        let path = try blobPath(root, digest: digest, what: what, source: source)
        guard let data = FileManager.default.contents(atPath: path) else { throw .io("read \(path)", errno) }
        let found = "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        guard found == digest else { throw .digestMismatch(layer: "\(what) \(digest)", expected: digest, found: found) }
        return data
    }

    // MARK: - docker save (legacy)

    private static func legacy(_ root: String, source: String) throws(TemplateError) -> OCIImage {
        guard let list = (try? JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: root + "/manifest.json") ?? Data())) as? [[String: Any]],
              let first = list.first, let configName = first["Config"] as? String, let layerNames = first["Layers"] as? [String] else {
            throw .badImage(source: source, message: "manifest.json is not a `docker save` manifest (a list with Config and Layers)")
        }
        guard let configData = FileManager.default.contents(atPath: root + "/" + configName) else {
            throw .badImage(source: source, message: "the config \(configName) named by manifest.json is missing")
        }
        let config = try TemplateConfig.parse(configData, source: configName)
        let diffIDs = ((try? JSONSerialization.jsonObject(with: configData)) as? [String: Any])
            .flatMap { $0["rootfs"] as? [String: Any] }.flatMap { $0["diff_ids"] as? [String] } ?? []
        guard diffIDs.isEmpty || diffIDs.count == layerNames.count else {
            throw .badConfig(source: configName, message: "rootfs.diff_ids lists \(diffIDs.count) layers, manifest.json \(layerNames.count)")
        }
        var layers: [Layer] = []
        for (i, name) in layerNames.enumerated() {
            guard let parts = try RootTree.components(name, layer: "manifest.json") else { throw .badImage(source: source, message: "layer \(i) has an empty name") }
            let path = root + "/" + parts.joined(separator: "/")
            guard FileManager.default.fileExists(atPath: path) else {
                throw .badImage(source: source, message: "layer \(name) named by manifest.json is missing")
            }
            layers.append(Layer(name: name, blob: path, digest: nil, diffID: diffIDs.isEmpty ? nil : diffIDs[i]))
        }
        return OCIImage(config: config, layers: layers, source: source)
    }

    private static func json(_ path: String, source: String) throws(TemplateError) -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { throw .badImage(source: source, message: "cannot read \(path)") }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .badImage(source: source, message: "\((path as NSString).lastPathComponent) is not a JSON object")
        }
        return object
    }
}

/// SHA-256 of a file, streamed, as "sha256:<hex>".
func fileDigest(_ path: String) throws(TemplateError) -> String {
    guard let h = FileHandle(forReadingAtPath: path) else { throw .io("open \(path)", errno) }
    defer { try? h.close() }
    var hasher = SHA256()
    while true {
        let data: Data
        do { data = try h.read(upToCount: 4 << 20) ?? Data() } catch { throw .io("read \(path)", EIO) }
        if data.isEmpty { break }
        hasher.update(data: data)
    }
    return "sha256:" + hasher.finalize().map { String(format: "%02x", $0) }.joined()
}
