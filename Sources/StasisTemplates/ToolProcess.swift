import Foundation

/// Runs a host tool (mkfs.ext4, gzip, debootstrap) to completion; its failure carries the end of
/// what it said on stderr.
enum ToolProcess {
    static func find(_ name: String) -> String? {
        ["/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/", "/usr/local/bin/"].map { $0 + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `name` with `arguments`; stdout goes to `stdout` (a path) or nowhere.
    static func run(_ name: String, _ arguments: [String], stdout: String? = nil, environment: [String: String]? = nil,
                    hint: String) throws(TemplateError) {
        guard let path = find(name) else { throw .tool(name: name, message: "it is not installed: \(hint)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("stasis-tool-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        do {
            p.standardError = try FileHandle(forWritingTo: errFile)
            if let stdout {
                _ = FileManager.default.createFile(atPath: stdout, contents: nil, attributes: [.posixPermissions: 0o600])
                p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
            } else {
                p.standardOutput = FileHandle.nullDevice
            }
            p.standardInput = FileHandle.nullDevice
            try p.run()
        } catch {
            throw .tool(name: name, message: "cannot start \(path): \(error)")
        }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let said = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
            let tail = said.split(separator: "\n").suffix(6).joined(separator: "\n")
            throw .tool(name: name, message: "exit status \(p.terminationStatus)\(tail.isEmpty ? "" : ":\n" + tail)")
        }
    }
}
