import Foundation

/// OCI images for tests, written by Tools/oci/make-oci.py (Python's tarfile and hashlib; no
/// Docker) into a temporary directory.
struct OCIImageFixture {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "oci-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/oci/make-oci.py").path
    }

    /// A layer from entries: (path, type, data or link target).
    func layerJSON(_ name: String, _ entries: [[String: Any]]) throws -> String {
        let path = directory + "/" + name + ".json"
        try JSONSerialization.data(withJSONObject: entries).write(to: URL(fileURLWithPath: path))
        return path
    }

    func tree(_ name: String, _ files: [String: String]) throws -> String {
        let root = directory + "/" + name
        for (path, text) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: false, encoding: .utf8)
        }
        return root
    }

    /// Writes the image; returns its path and (for a layout) each layer's blob path.
    @discardableResult
    func make(_ name: String, layers: [String], env: [String] = [], workdir: String = "", user: String = "",
              cmd: [String]? = nil, dockerSave: Bool = false, gzip: Bool = true, rawConfig: String? = nil) throws -> (path: String, blobs: [String]) {
        let out = directory + "/" + name + (dockerSave ? ".tar" : "")
        var args = [Self.script, out]
        for l in layers { args += l.hasSuffix(".json") ? ["--layer-json", l] : ["--layer", l] }
        for e in env { args += ["--env", e] }
        if !workdir.isEmpty { args += ["--workdir", workdir] }
        if !user.isEmpty { args += ["--user", user] }
        if let cmd { args += ["--cmd", String(decoding: try JSONSerialization.data(withJSONObject: cmd), as: UTF8.self)] }
        if dockerSave { args.append("--docker-save") }
        if !gzip { args.append("--no-gzip") }
        if let rawConfig { args += ["--raw-config", rawConfig] }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        return (out, String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init))
    }
}
