#if canImport(Glibc)
import Glibc
#endif

/// Path-level operations that the store's all-or-nothing protocol depends on.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func fileSize(_ path: String) throws(IOError) -> Int64 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw IOError(.stat, path: path, errno: .current) }
        return Int64(st.st_size)
    }

    /// Bytes the file occupies on disk (its allocated blocks).
    public static func allocatedSize(_ path: String) throws(IOError) -> Int64 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw IOError(.stat, path: path, errno: .current) }
        return Int64(st.st_blocks) * 512
    }

    /// Creates the directory and any missing parents.
    public static func createDirectory(_ path: String, permissions: mode_t = 0o755) throws(IOError) {
        if isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, permissions) != 0 {
                let err = Errno.current
                if err != .exists { throw IOError(.mkdir, path: prefix, errno: err) }
            }
        }
    }

    /// Atomic replace, then fsync of the directory so the new name survives a crash.
    public static func renameDurably(_ from: String, to: String) throws(IOError) {
        if let forced = FaultInjection.check(.rename, path: from) { throw IOError(.rename, path: from, errno: forced) }
        guard Glibc.rename(from, to) == 0 else { throw IOError(.rename, path: from, errno: .current) }
        try syncDirectory(containing: to)
    }

    /// Atomic replace without the directory fsync (the caller syncs each directory once).
    public static func rename(_ from: String, to: String) throws(IOError) {
        if let forced = FaultInjection.check(.rename, path: from) { throw IOError(.rename, path: from, errno: forced) }
        guard Glibc.rename(from, to) == 0 else { throw IOError(.rename, path: from, errno: .current) }
    }

    public static func syncDirectory(containing path: String) throws(IOError) {
        let dir = parent(of: path)
        let fd = try FileDescriptor.open(dir, .directory)
        defer { fd.close() }
        try fd.sync()
    }

    public static func remove(_ path: String) throws(IOError) {
        guard unlink(path) == 0 else {
            let err = Errno.current
            if err == .noEntry { return }
            throw IOError(.unlink, path: path, errno: err)
        }
    }

    public static func removeDirectory(_ path: String) {
        _ = rmdir(path)
    }

    /// Names in a directory (no "." or ".."); empty if it does not exist.
    public static func list(_ path: String) throws(IOError) -> [String] {
        guard let dir = opendir(path) else {
            let err = Errno.current
            if err == .noEntry { return [] }
            throw IOError(.list, path: path, errno: err)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Absolute form of a path (relative to the current directory); no symlink resolution.
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buf, buf.count) != nil else { return path }
        let cwd = String(cString: buf)
        return path == "." ? cwd : cwd + "/" + path
    }

    /// Free bytes available to this user on the file system holding `path`.
    public static func availableSpace(at path: String) -> Int64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }
}
