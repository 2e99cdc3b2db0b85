import Foundation
import StasisSandbox

/// The chunks of a lazily restored sandbox's memory that the guest has written since the
/// restore, as the page server publishes them on each FSYNC of the memory file
/// (`guest.mem.dirty.json`, replaced whole). A checkpoint forces the write-back (an fsync
/// while the guest is stopped), then reads this file and captures only these chunks against
/// `image` (Formats/lazy-restore.md, "Checkpoints of a lazily restored sandbox").
public struct DirtyMap: Codable, Sendable, Equatable {
    /// The memory image served: every chunk not listed is that image's.
    public var image: String
    public var chunkSize: Int
    public var imageSize: Int64
    /// Counts the page server's FSYNCs: a reader that forced one sees it grow.
    public var generation: Int
    /// Chunk indexes, ascending.
    public var dirty: [Int]

    public static func path(_ dir: SandboxDirectory) -> String { dir.path + "/guest.mem.dirty.json" }

    public static func load(_ dir: SandboxDirectory) -> DirtyMap? {
        guard let data = FileManager.default.contents(atPath: path(dir)) else { return nil }
        return try? JSONDecoder().decode(DirtyMap.self, from: data)
    }

    /// Written to a temporary name, synced and renamed: a reader sees a whole map, old or new.
    func save(_ dir: SandboxDirectory) -> Bool {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return false }
        let temp = Self.path(dir) + ".tmp"
        guard FileManager.default.createFile(atPath: temp, contents: data, attributes: [.posixPermissions: 0o600]) else { return false }
        return rename(temp, Self.path(dir)) == 0
    }

    /// The byte ranges of the dirty chunks, adjacent chunks merged, clipped to the image.
    public var byteRanges: [Range<Int64>] {
        var out: [Range<Int64>] = []
        for c in dirty {
            let start = Int64(c) * Int64(chunkSize)
            let end = min(imageSize, start + Int64(chunkSize))
            guard start < end else { continue }
            if let last = out.last, last.upperBound == start { out[out.count - 1] = last.lowerBound..<end } else { out.append(start..<end) }
        }
        return out
    }
}

extension DirtyMap {
    /// For a checkpoint of `dir`: what its guest wrote since its lazy restore, or nil when its
    /// memory is not served by a page server that runs (an eager restore, a failed or ended one).
    public static func dirtyMemory(of dir: SandboxDirectory) -> DirtyMemory? {
        guard let status = PageServerStatus.load(dir), status.isRunning,
              [.serving, .hydrating, .hydrated].contains(status.state) else { return nil }
        let image = status.image
        return DirtyMemory(base: image) { dir in forcedRanges(dir, image: image) }
    }

    /// With the guest stopped: an fsync of the memory file makes the kernel write back every
    /// dirty page of it (a page the guest wrote through QEMU's shared mapping is dirty in the
    /// page cache, not yet in the overlay) and then send FSYNC, on which the page server
    /// publishes its dirty map. The map read must come from an FSYNC sent after a write-back
    /// that is known complete, so the file is synced twice and the map must be newer than the
    /// generation seen between the two (an FSYNC of someone else's, begun earlier, is not
    /// enough). Nil (copy everything) if anything is off.
    static func forcedRanges(_ dir: SandboxDirectory, image: String) -> [Range<Int64>]? {
        let fd = open(dir.memory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard fsync(fd) == 0 else { return nil }
        let seen = load(dir)?.generation ?? 0
        guard fsync(fd) == 0, let map = load(dir), map.generation > seen, map.image == image else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, Int64(st.st_size) == map.imageSize else { return nil }
        return map.byteRanges
    }
}
