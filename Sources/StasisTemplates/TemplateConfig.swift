import Foundation

/// What a sandbox started from a template runs with, taken from the image config's `config`
/// object (OCI image-spec, "Properties": Env, WorkingDir, User, Cmd, Entrypoint) or set for a
/// Debian template. Recorded in the template and written into its root as `/.stasis/template.env`.
public struct TemplateConfig: Codable, Sendable, Equatable {
    public var env: [String]
    public var workingDir: String
    public var user: String
    /// The user resolved against the image's /etc/passwd and /etc/group when it was built.
    public var uid: UInt32
    public var gid: UInt32
    public var cmd: [String]
    public var entrypoint: [String]

    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    public init(env: [String] = ["PATH=\(defaultPath)"], workingDir: String = "/", user: String = "",
                uid: UInt32 = 0, gid: UInt32 = 0, cmd: [String] = [], entrypoint: [String] = []) {
        self.env = env; self.workingDir = workingDir; self.user = user
        self.uid = uid; self.gid = gid; self.cmd = cmd; self.entrypoint = entrypoint
    }

    /// Parses an image config (the JSON the manifest's `config` descriptor names).
    static func parse(_ data: Data, source: String) throws(TemplateError) -> TemplateConfig {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw .badConfig(source: source, message: "not JSON (\(error.localizedDescription))")
        }
        guard let top = object as? [String: Any] else { throw .badConfig(source: source, message: "not a JSON object") }
        let inner = top["config"] as? [String: Any] ?? [:]
        func strings(_ key: String) throws(TemplateError) -> [String]? {
            guard let value = inner[key], !(value is NSNull) else { return nil }
            guard let list = value as? [String] else { throw .badConfig(source: source, message: "config.\(key) is not a list of strings") }
            return list
        }
        var config = TemplateConfig(env: try strings("Env") ?? ["PATH=\(defaultPath)"],
                                    workingDir: inner["WorkingDir"] as? String ?? "",
                                    user: inner["User"] as? String ?? "",
                                    cmd: try strings("Cmd") ?? [], entrypoint: try strings("Entrypoint") ?? [])
        if config.workingDir.isEmpty { config.workingDir = "/" }
        guard config.workingDir.hasPrefix("/") else {
            throw .badConfig(source: source, message: "config.WorkingDir '\(config.workingDir)' is not an absolute path")
        }
        for entry in config.env {
            guard let eq = entry.firstIndex(of: "="), Self.isName(entry[..<eq]) else {
                throw .badConfig(source: source, message: "config.Env entry '\(entry)' is not NAME=VALUE with a shell variable name")
            }
        }
        return config
    }

    static func isName(_ s: Substring) -> Bool {
        guard let first = s.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return s.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }

    /// Resolves `user` (NAME, UID, NAME:GROUP or UID:GID) against the tree's /etc/passwd and
    /// /etc/group, as a container runtime does when it starts the image.
    mutating func resolveUser(in root: String, source: String) throws(TemplateError) {
        guard !user.isEmpty else { uid = 0; gid = 0; return }
        let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
        let passwd = Self.table(root + "/etc/passwd")
        if let n = UInt32(parts[0]) {
            uid = n
            gid = passwd.first { $0.count > 3 && $0[2] == parts[0] }.flatMap { UInt32($0[3]) } ?? 0
        } else if let row = passwd.first(where: { $0.count > 3 && $0[0] == parts[0] }), let u = UInt32(row[2]), let g = UInt32(row[3]) {
            uid = u; gid = g
        } else {
            throw .badConfig(source: source, message: "config.User '\(user)' is not in the image's /etc/passwd; give a numeric UID or add the user")
        }
        if parts.count == 2 {
            if let g = UInt32(parts[1]) { gid = g } else if let row = Self.table(root + "/etc/group").first(where: { $0.count > 2 && $0[0] == parts[1] }), let g = UInt32(row[2]) {
                gid = g
            } else {
                throw .badConfig(source: source, message: "the group of config.User '\(user)' is not in the image's /etc/group")
            }
        }
    }

    private static func table(_ path: String) -> [[String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
    }

    /// `/.stasis/template.env`: sourced by the guest agent's shell when it starts, so commands
    /// see the image's environment and start in its working directory. Busybox applets come
    /// last on PATH, so a minimal image still has `ls` and `cat`.
    var profile: String {
        var lines = ["# Written by `stasis template build`: the image config's Env and WorkingDir."]
        var sawPath = false
        for entry in env {
            let eq = entry.firstIndex(of: "=")!
            var value = String(entry[entry.index(after: eq)...])
            if entry[..<eq] == "PATH" { sawPath = true; value += ":/.stasis/guest/bin" }
            lines.append("export \(entry[..<eq])=\(Self.quote(value))")
        }
        if !sawPath { lines.append("export PATH=\(Self.quote(Self.defaultPath + ":/.stasis/guest/bin"))") }
        lines.append("cd \(Self.quote(workingDir)) 2>/dev/null || cd /")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `/.stasis/template.user`: "UID:GID" the agent's shell runs as.
    var userLine: String { "\(uid):\(gid)\n" }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
