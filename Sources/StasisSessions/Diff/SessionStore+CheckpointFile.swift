import Crypto
import StasisExt4
import StasisIO
import StasisStore

/// A file read from a checkpoint's disk.
public struct CheckpointFile: Sendable, Codable {
    public var checkpoint: String
    /// The disk's name (`root` for the image `disk:root`).
    public var disk: String
    public var path: String
    public var size: Int64
    public var sha256: String
    /// Permission bits, octal, and modification time (seconds since 1970).
    public var mode: String
    public var mtime: Int64
}

extension SessionStore {
    /// Streams a regular file as it was on a checkpoint's ext4 disk to `sink`, after the
    /// checkpoint checks out (`verifiedCheckpoint`). `path` is absolute inside the image; `.`
    /// and `..` are resolved without leaving the root (a path that would climb out is refused,
    /// not clamped); symbolic links are not followed. With several disks, `disk` names one.
    /// The disk is materialized (sparse) into the store's tmp directory and read through
    /// libext2fs, never mounted.
    public func readFile(atCheckpoint checkpoint: String, path: String, disk: String? = nil,
                         to sink: (UnsafeRawBufferPointer) throws -> Void) throws(CheckpointFileError) -> CheckpointFile {
        let inside = try Self.normalizedPath(path)
        let c: Checkpoint
        do { c = try verifiedCheckpoint(checkpoint) } catch { throw .checkpoint(error) }
        let disks = c.record.images.keys.filter { $0.hasPrefix("disk:") }.map { String($0.dropFirst(5)) }.sorted()
        let name: String
        if let disk {
            guard disks.contains(disk) else { throw .disk(checkpoint: c.id, reason: "has no disk '\(disk)'", disks: disks) }
            name = disk
        } else {
            guard let only = disks.first else { throw .disk(checkpoint: c.id, reason: "holds no disk image", disks: []) }
            guard disks.count == 1 else { throw .disk(checkpoint: c.id, reason: "has several disks: choose one with --disk NAME", disks: disks) }
            name = only
        }
        let image = c.record.images["disk:" + name]!
        let copy = store.temporaryPath(".cat.img")
        defer { try? FileSystem.remove(copy) }
        do { _ = try store.materialize(image, to: copy) } catch { throw .history(.store(error)) }
        do {
            let fs = try Ext4Image.open(path: copy)
            let entries = try fs.walk()
            guard let entry = entries.first(where: { $0.path == inside }) else {
                // Name the deepest existing ancestor that is a link: the usual reason a path is not there.
                let link = entries.first { $0.kind == .symlink && inside.hasPrefix($0.path + "/") }
                let hint = link.map { ": '\($0.path)' is a symbolic link to '\($0.linkTarget ?? "?")' (links are not followed)" } ?? ""
                throw CheckpointFileError.notFound(checkpoint: c.id, disk: name, path: inside, hint: hint)
            }
            guard entry.kind == .file else {
                let kind = entry.kind == .symlink ? "symbolic link to '\(entry.linkTarget ?? "?")'" : entry.kind.rawValue
                throw CheckpointFileError.notARegularFile(checkpoint: c.id, disk: name, path: inside, kind: kind)
            }
            var hash = SHA256()
            var failure: (any Error)?
            try fs.forEachChunk(of: entry) { bytes in
                guard failure == nil else { return }
                hash.update(bufferPointer: bytes)
                do { try sink(bytes) } catch { failure = error }
            }
            if let failure { throw CheckpointFileError.badPath(inside, reason: "could not write the file's bytes: \(failure)") }
            return CheckpointFile(checkpoint: c.id, disk: name, path: inside, size: Int64(entry.size),
                                  sha256: StoreKey.hex(hash.finalize()), mode: String(entry.permissions, radix: 8), mtime: entry.mtime)
        } catch let error as CheckpointFileError {
            throw error
        } catch let error as Ext4Error {
            throw .unreadableDisk(checkpoint: c.id, disk: name, cause: error)
        } catch {
            throw .badPath(inside, reason: "\(error)")
        }
    }

    /// `/a/./b/../c` → `/a/c`; refuses relative paths and paths that climb above the root.
    static func normalizedPath(_ path: String) throws(CheckpointFileError) -> String {
        guard path.hasPrefix("/") else { throw .badPath(path, reason: "give an absolute path inside the disk, e.g. C:/etc/hostname") }
        guard !path.utf8.contains(0) else { throw .badPath(path, reason: "a path holds no NUL byte") }
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..":
                guard !parts.isEmpty else { throw .badPath(path, reason: "the path climbs out of the disk image's root: it is outside the image") }
                parts.removeLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
