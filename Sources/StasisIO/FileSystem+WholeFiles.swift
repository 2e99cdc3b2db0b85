import Glibc

extension FileSystem {
    /// A small file's whole contents.
    public static func readFile(_ path: String) throws(IOError) -> [UInt8] {
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { fd.close() }
        return try fd.readAll()
    }

    /// Replaces `path` with `bytes` so that a crash leaves the old file or the new one, never a
    /// mix: a temporary file beside it, fsync, rename, fsync of the directory.
    public static func writeFileAtomically(_ path: String, bytes: [UInt8], permissions: mode_t = 0o600) throws(IOError) {
        let temporary = path + ".tmp-\(getpid())"
        try? remove(temporary)
        do throws(IOError) {
            let fd = try FileDescriptor.open(temporary, .createExclusive, permissions: permissions)
            defer { fd.close() }
            try bytes.withRawBytes { (raw) throws(IOError) in try fd.write(raw, at: 0) }
            try fd.sync()
        } catch {
            try? remove(temporary)
            throw error
        }
        do throws(IOError) { try renameDurably(temporary, to: path) } catch {
            try? remove(temporary)
            throw error
        }
    }
}
