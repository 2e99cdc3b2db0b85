import Foundation

/// The ext4 root disk of a template, made from a tree with `mkfs.ext4 -d` (never mounted on the
/// host). Sized to the tree plus headroom for what sandboxes write; the file is sparse, so the
/// headroom costs nothing until used, and zero chunks are never stored.
enum RootDisk {
    /// Free space left for sandboxes, beyond the tree: a quarter of it, at least 256 MiB.
    static func size(forTreeBytes bytes: Int64, inodes: Int64) -> Int64 {
        let metadata = inodes * 256 + 64 << 20
        let headroom = max(bytes / 4, 256 << 20)
        let total = bytes + metadata + headroom
        return (total + (1 << 20) - 1) / (1 << 20) * (1 << 20)
    }

    /// Bytes and inodes a tree takes (allocated blocks, rounded to 4 KiB per file).
    static func measure(_ tree: String) -> (bytes: Int64, inodes: Int64) {
        var bytes: Int64 = 0, inodes: Int64 = 0
        let e = FileManager.default.enumerator(atPath: tree)
        while let name = e?.nextObject() as? String {
            inodes += 1
            var st = stat()
            if lstat(tree + "/" + name, &st) == 0, st.st_mode & S_IFMT == S_IFREG {
                bytes += (Int64(st.st_size) + 4095) / 4096 * 4096
            }
        }
        return (bytes, inodes)
    }

    /// Writes `image` (must not exist) from `tree`. The filesystem's UUID and hash seed come from
    /// `seed`, and its timestamps from the tree, so the same tree makes the same image.
    static func make(_ image: String, from tree: String, bytes: Int64, seed: String) throws(TemplateError) {
        let uuid = uuidFrom(seed)
        try ToolProcess.run("mkfs.ext4", ["-q", "-F", "-t", "ext4", "-d", tree, "-L", "stasis-root", "-U", uuid,
                                          "-E", "hash_seed=\(uuid),lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0",
                                          image, "\(bytes / 1024)k"],
                            environment: ["E2FSPROGS_FAKE_TIME": "1"],
                            hint: "install e2fsprogs (Tools/setup.sh does)")
    }

    static func uuidFrom(_ seed: String) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        var g: UInt64 = 0x84222325cbf29ce4
        for b in seed.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3; g = (g ^ UInt64(b)) &* 0x100000001b3 ^ h }
        let hex = String(format: "%016llx%016llx", h, g)
        let c = Array(hex)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-4\(String(c[13..<16]))-8\(String(c[17..<20]))-\(String(c[20..<32]))"
    }
}
