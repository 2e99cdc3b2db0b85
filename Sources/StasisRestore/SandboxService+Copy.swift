import Crypto
import Foundation
import StasisJSON
import StasisSandbox
import StasisSessions

/// `stasis cp`: files and directories between the host and a sandbox's guest, as a tar stream
/// over the agent's streaming exec (no shared folder, nothing mounted on the host). Either side
/// unpacks into a temporary directory next to the target first and moves the result into place,
/// so a copy that fails (a full guest disk, a missing path) leaves the target as it was.
extension SandboxService {
    public struct CopyResult: Sendable, Codable {
        /// Where the copy landed (the guest path, or the host path).
        public var target: String
        /// Bytes of the tar stream that crossed the agent channel.
        public var streamBytes: Int64
        /// Regular files copied, with their sizes.
        public var files: Int
        public var fileBytes: Int64
    }

    /// Copies a host file or directory into the guest. Like `cp` and `docker cp`: into
    /// `guestPath` when that is an existing directory, else as `guestPath`. Each regular file is
    /// recorded as a `file.written` event (path, size, sha256, `"source": "host"`).
    public func copyIn(_ sessionOrSandbox: String, from hostPath: String, to guestPath: String,
                       timeout: TimeInterval = 3600) throws(SandboxError) -> CopyResult {
        let (spec, dir) = try running(sessionOrSandbox)
        try Self.checkGuestPath(guestPath)
        // `/mnt/disk/` and `/mnt/disk` name the same directory.
        var guestPath = guestPath
        while guestPath.count > 1 && guestPath.hasSuffix("/") { guestPath.removeLast() }
        var isDirectory: ObjCBool = false
        let source = URL(fileURLWithPath: hostPath).standardizedFileURL
        guard FileManager.default.fileExists(atPath: source.path, isDirectory: &isDirectory) else {
            throw .badArgument("stasis cp: \(hostPath): no such file or directory on the host")
        }
        let name = source.lastPathComponent
        let files = try Self.regularFiles(source, relativeTo: name)
        let tar = try HostTar.create(parent: source.deletingLastPathComponent().path, name: name)
        let q = ShellCommandLine.quoting
        let script = """
            (
            dst=\(q([guestPath])); name=\(q([name]))
            if [ -d "$dst" ]; then into=$dst; target=${dst%/}/$name; else into=$(dirname -- "$dst"); target=$dst; fi
            [ -d "$into" ] || { printf 'stasis cp: %s: no such directory in the guest\\n' "$into" >&2; exit 3; }
            tmp=$(mktemp -d "$into/.stasis-cp.XXXXXX") || exit 4
            if ! tar -x -f - -C "$tmp"; then rm -rf "$tmp"; printf 'stasis cp: could not write %s in the guest (the guest disk may be full: df shows it); nothing was changed\\n' "$target" >&2; exit 5; fi
            if [ -d "$target" ] && [ -d "$tmp/$name" ]; then
                cp -a "$tmp/$name/." "$target/" || { rm -rf "$tmp"; exit 5; }
            else
                mv -f "$tmp/$name" "$target" || { rm -rf "$tmp"; exit 5; }
            fi
            rm -rf "$tmp"
            printf '%s\\n' "$target"
            )
            """
        var out: [UInt8] = []
        var err: [UInt8] = []
        let status: ExecStatus
        do {
            status = try driver.exec(dir, ExecRequest(command: script, timeout: timeout, stdin: tar.input)) { (stream, chunk) throws(SandboxError) in
                if stream == .stdout { out += chunk } else { err += chunk }
            }
        } catch {
            tar.abandon()
            throw error
        }
        let (tarStatus, streamBytes, tarError) = tar.finish(stop: status.exitCode != 0)
        guard status.exitCode == 0 else {
            throw .copyFailed(String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).nonEmpty
                               ?? "stasis cp: the guest's tar exited \(status.exitCode); nothing was changed")
        }
        guard tarStatus == 0 else { throw .io("tar -c \(hostPath) on the host: \(tarError)", EIO) }
        let target = String(decoding: out, as: UTF8.self).trimmingCharacters(in: .newlines)
        try record(spec.session, files.map { f in
            EventInput(kind: .fileWritten, data: ["path": .string(target + String(f.path.dropFirst(name.count))), "size": .int(f.size), "sha256": .string(f.sha256),
                                                  "source": .string("host"), "sandbox": .string(spec.id)])
        })
        return CopyResult(target: target, streamBytes: streamBytes, files: files.count, fileBytes: files.reduce(0) { $0 + $1.size })
    }

    /// Copies a guest file or directory to the host: into `hostPath` when that is an existing
    /// directory, else as `hostPath`. Recorded as a `note` with the guest path, the host path and
    /// the tar stream's size and sha256.
    public func copyOut(_ sessionOrSandbox: String, from guestPath: String, to hostPath: String,
                        timeout: TimeInterval = 3600) throws(SandboxError) -> CopyResult {
        let (spec, dir) = try running(sessionOrSandbox)
        try Self.checkGuestPath(guestPath)
        let name = (guestPath as NSString).lastPathComponent
        guard name != "/" && !name.isEmpty else { throw .badArgument("stasis cp: give a file or directory under /, not the guest's root") }
        var isDirectory: ObjCBool = false
        let destination = URL(fileURLWithPath: hostPath).standardizedFileURL
        let target = FileManager.default.fileExists(atPath: destination.path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? destination.appendingPathComponent(name) : destination
        let into = target.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: into, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .badArgument("stasis cp: \(into): no such directory on the host")
        }
        let tmp: String
        do { tmp = try FileManager.default.url(for: .itemReplacementDirectory, in: .userDomainMask, appropriateFor: URL(fileURLWithPath: into), create: true).path } catch {
            throw .io("make a temporary directory next to \(target.path)", EIO)
        }
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let tar = try HostTar.extract(into: tmp)
        let parent = (guestPath as NSString).deletingLastPathComponent
        let script = "cd -- \(ShellCommandLine.quoting([parent.isEmpty ? "/" : parent])) && tar -c -f - \(ShellCommandLine.quoting(["./" + name]))"
        var err: [UInt8] = []
        var hasher = SHA256()
        var streamBytes: Int64 = 0
        let status: ExecStatus
        do {
            status = try driver.exec(dir, ExecRequest(command: "(\n\(script)\n)", timeout: timeout)) { (stream, chunk) throws(SandboxError) in
                if stream == .stderr { err += chunk; return }
                hasher.update(data: chunk)
                streamBytes += Int64(chunk.count)
                try tar.write(chunk)
            }
        } catch {
            tar.abandon()
            throw error
        }
        let (tarStatus, _, tarError) = tar.finish()
        guard status.exitCode == 0 else {
            let message = String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .copyFailed("stasis cp: could not read \(guestPath) in the guest: \(message.isEmpty ? "tar exited \(status.exitCode)" : message)")
        }
        guard tarStatus == 0 else { throw .io("tar -x into \(tmp) on the host: \(tarError)", EIO) }
        do {
            if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
            try FileManager.default.moveItem(atPath: tmp + "/" + name, toPath: target.path)
        } catch {
            throw .io("move the copy to \(target.path): \(error)", EIO)
        }
        let files = (try? Self.regularFiles(target, relativeTo: name)) ?? []
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        try record(spec.session, [EventInput(kind: .note, data: [
            "text": .string("copied \(guestPath) from the guest to the host (\(target.path))"), "path": .string(guestPath),
            "host_path": .string(target.path), "stream_bytes": .int(streamBytes), "stream_sha256": .string(digest), "sandbox": .string(spec.id)])])
        return CopyResult(target: target.path, streamBytes: streamBytes, files: files.count, fileBytes: files.reduce(0) { $0 + $1.size })
    }

    static func checkGuestPath(_ path: String) throws(SandboxError) {
        guard path.hasPrefix("/") else { throw .badArgument("stasis cp: the guest path '\(path)' must be absolute (SESSION:/path)") }
        guard !path.contains("\0") else { throw .badArgument("stasis cp: the guest path holds a NUL byte") }
    }

    struct CopiedFile {
        var path: String
        var size: Int64
        var sha256: String
    }

    /// The regular files under `root` (or `root` itself), named from `name` down, with sizes
    /// and digests: what a copy is recorded as.
    static func regularFiles(_ root: URL, relativeTo name: String) throws(SandboxError) -> [CopiedFile] {
        func file(_ url: URL, _ path: String) throws(SandboxError) -> CopiedFile {
            guard let handle = FileHandle(forReadingAtPath: url.path) else { throw .io("read \(url.path)", EACCES) }
            defer { try? handle.close() }
            var hasher = SHA256()
            var size: Int64 = 0
            while let data = try? handle.read(upToCount: 1 << 20), !data.isEmpty {
                hasher.update(data: data)
                size += Int64(data.count)
            }
            return CopiedFile(path: path, size: size, sha256: hasher.finalize().map { String(format: "%02x", $0) }.joined())
        }
        let values = try? root.resourceValues(forKeys: [.isRegularFileKey, .isDirectoryKey, .isSymbolicLinkKey])
        if values?.isRegularFile == true && values?.isSymbolicLink != true { return [try file(root, name)] }
        guard values?.isDirectory == true else { return [] }
        var found: [CopiedFile] = []
        let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey])
        while let url = walker?.nextObject() as? URL {
            let v = try? url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey])
            guard v?.isRegularFile == true, v?.isSymbolicLink != true else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count))
            found.append(try file(url, name + relative))
        }
        return found.sorted { $0.path < $1.path }
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
