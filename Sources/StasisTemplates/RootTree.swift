import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A directory on the host that becomes a template's root filesystem, built up by applying image
/// layers in order. Nothing is ever written outside it: every entry's path is checked (no `..`),
/// and no entry is written through a symlink, so a layer cannot reach the host's files.
struct RootTree {
    let path: String

    /// A layer path made relative to the root, its components checked; nil for the root itself.
    static func components(_ raw: String, layer: String) throws(TemplateError) -> [String]? {
        var parts: [String] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." { throw .badEntry(layer: layer, entry: raw, message: "the path climbs out of the root with '..'") }
            parts.append(String(part))
        }
        return parts.isEmpty ? nil : parts
    }

    /// Makes sure every directory above `parts` exists as a real directory (creating missing
    /// ones 0755) and returns the host path of the entry. A parent that is a symlink is refused:
    /// layers name real paths, and following a link could lead out of the root.
    func hostPath(_ parts: [String], entry: String, layer: String, create: Bool = true) throws(TemplateError) -> String {
        var current = path
        for part in parts.dropLast() {
            current += "/" + part
            var st = stat()
            if lstat(current, &st) != 0 {
                guard create else { return path + "/" + parts.joined(separator: "/") }
                guard mkdir(current, 0o755) == 0 else { throw .io("mkdir \(current)", errno) }
                continue
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: continue
            case S_IFLNK: throw .badEntry(layer: layer, entry: entry, message: "the path goes through the symlink '\(current.dropFirst(path.count + 1))'; layers must name real paths")
            default: throw .badEntry(layer: layer, entry: entry, message: "'\(current.dropFirst(path.count + 1))' is not a directory")
            }
        }
        return current + "/" + parts.last!
    }

    /// Applies one layer: first its whiteouts (which delete from the layers below), then its
    /// entries. Device nodes, `..` paths and symlinks that climb out of the root are refused.
    func apply(layerFile: String, layer: String) throws(TemplateError) {
        // Pass 1: whiteouts act on what the layers below left.
        let first = try TarReader(path: layerFile, name: layer)
        while let entry = try first.next() {
            guard let parts = try Self.components(entry.path, layer: layer) else { continue }
            let base = parts.last!
            guard base.hasPrefix(".wh.") else { continue }
            let dir = Array(parts.dropLast())
            let dirPath = dir.isEmpty ? path : try hostPath(dir + ["x"], entry: entry.path, layer: layer, create: false).dropLastComponent()
            if base == ".wh..wh..opq" {
                // Opaque: the directory hides everything the layers below put in it.
                if let names = try? FileManager.default.contentsOfDirectory(atPath: dirPath) {
                    for n in names { try remove(dirPath + "/" + n) }
                }
            } else {
                let hidden = String(base.dropFirst(".wh.".count))
                guard !hidden.isEmpty, hidden != ".", hidden != ".." else {
                    throw .badEntry(layer: layer, entry: entry.path, message: "a whiteout names no file")
                }
                try remove(dirPath + "/" + hidden)
            }
        }
        // Pass 2: the entries themselves.
        let second = try TarReader(path: layerFile, name: layer)
        var directories: [(String, TarEntry)] = []
        while let entry = try second.next() {
            guard let parts = try Self.components(entry.path, layer: layer) else { continue }
            if parts.last!.hasPrefix(".wh.") { continue }
            let target = try hostPath(parts, entry: entry.path, layer: layer)
            switch entry.kind {
            case .directory:
                var st = stat()
                if lstat(target, &st) == 0, st.st_mode & S_IFMT != S_IFDIR { try remove(target) }
                if lstat(target, &st) != 0, mkdir(target, 0o755) != 0 { throw .io("mkdir \(target)", errno) }
                directories.append((target, entry))
            case .file:
                try replaceable(target, entry: entry, layer: layer)
                let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw .io("create \(target)", errno) }
                defer { close(fd) }
                try second.copyData(to: fd)
                try own(fd: fd, entry)
            case .symlink:
                try checkLinkTarget(entry, parts: parts, layer: layer)
                try replaceable(target, entry: entry, layer: layer)
                guard symlink(entry.linkTarget, target) == 0 else { throw .io("symlink \(target)", errno) }
                _ = lchown(target, entry.uid, entry.gid)
            case .hardlink:
                guard let linkParts = try Self.components(entry.linkTarget, layer: layer) else {
                    throw .badEntry(layer: layer, entry: entry.path, message: "a hard link to the root directory")
                }
                let source = try hostPath(linkParts, entry: entry.path, layer: layer, create: false)
                var st = stat()
                guard lstat(source, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
                    throw .badEntry(layer: layer, entry: entry.path, message: "a hard link to '\(entry.linkTarget)', which is not a regular file of the image (so far)")
                }
                try replaceable(target, entry: entry, layer: layer)
                guard link(source, target) == 0 else { throw .io("link \(target)", errno) }
            case .fifo:
                try replaceable(target, entry: entry, layer: layer)
                guard mkfifo(target, mode_t(entry.mode)) == 0 else { throw .io("mkfifo \(target)", errno) }
                _ = lchown(target, entry.uid, entry.gid)
            case .characterDevice, .blockDevice:
                throw .badEntry(layer: layer, entry: entry.path, message: "a device node; a template gets its devices from the guest kernel (devtmpfs), never from an image")
            case .other(let type):
                throw .badEntry(layer: layer, entry: entry.path, message: "tar entry type '\(Character(Unicode.Scalar(type)))' is not supported")
            }
        }
        // Directory modes last: a read-only directory must still take its children first.
        for (target, entry) in directories.reversed() {
            _ = lchown(target, entry.uid, entry.gid)
            chmod(target, mode_t(entry.mode))
        }
    }

    /// A symlink's target, resolved inside the root, must stay inside it. Absolute targets are
    /// read as the guest reads them (from the template's root).
    private func checkLinkTarget(_ entry: TarEntry, parts: [String], layer: String) throws(TemplateError) {
        guard !entry.linkTarget.isEmpty else { throw .badEntry(layer: layer, entry: entry.path, message: "a symlink with an empty target") }
        var depth = entry.linkTarget.hasPrefix("/") ? 0 : parts.count - 1
        for part in entry.linkTarget.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." {
                depth -= 1
                if depth < 0 {
                    throw .badEntry(layer: layer, entry: entry.path, message: "a symlink to '\(entry.linkTarget)', which points out of the root")
                }
            } else {
                depth += 1
            }
        }
    }

    /// Clears the way for a new non-directory entry (a later layer replaces a file).
    private func replaceable(_ target: String, entry: TarEntry, layer: String) throws(TemplateError) {
        var st = stat()
        guard lstat(target, &st) == 0 else { return }
        try remove(target)
    }

    private func own(fd: Int32, _ entry: TarEntry) throws(TemplateError) {
        _ = fchown(fd, entry.uid, entry.gid)  // fails only when not root: the image gets this user's ids
        guard fchmod(fd, mode_t(entry.mode)) == 0 else { throw .io("chmod", errno) }
        var times = [timespec(tv_sec: Int(entry.mtime), tv_nsec: 0), timespec(tv_sec: Int(entry.mtime), tv_nsec: 0)]
        _ = futimens(fd, &times)
    }

    /// Removes a file, link or whole directory inside the root (never following a link).
    func remove(_ target: String) throws(TemplateError) {
        var st = stat()
        guard lstat(target, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            chmod(target, 0o755)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: target)) ?? []
            for n in names { try remove(target + "/" + n) }
            guard rmdir(target) == 0 else { throw .io("remove \(target)", errno) }
        } else {
            guard unlink(target) == 0 else { throw .io("remove \(target)", errno) }
        }
    }
}

extension String {
    /// The path without its last component.
    func dropLastComponent() -> String {
        guard let slash = lastIndex(of: "/") else { return "." }
        return String(self[..<slash])
    }
}
