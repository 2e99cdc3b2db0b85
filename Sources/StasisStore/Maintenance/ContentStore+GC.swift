import Foundation
import StasisIO

/// What `gc` removed (or, in a dry run, would remove).
public struct GCReport: Sendable, Codable {
    public var dryRun: Bool
    public var referencedChunks: Int
    public var packsDeleted: [String] = []
    public var packsRepacked: [String] = []
    public var packsWritten: [String] = []
    public var chunksRemoved = 0
    public var bytesFreed: Int64 = 0
    public var leftoverFilesRemoved: [String] = []
    /// Fleet stores: objects no row named, deleted from object storage.
    public var objectsRemoved: [String] = []
    /// Fleet stores: condemned packs that wait for writers (on any host) older than their
    /// condemnation; a later gc deletes them.
    public var packsWaiting: [String] = []
}

extension ContentStore {
    /// Removes every chunk no image or blob references. Packs with nothing live are deleted; packs
    /// that are mostly dead (live bytes below `repackBelow` of the pack) have their live chunks
    /// copied — verified — into new packs first. Leftovers of crashed writers are removed too.
    ///
    /// Holds the store lock exclusively: captures in flight finish first, and new ones wait, so no
    /// capture can dedup against a chunk that gc is deleting.
    public func gc(dryRun: Bool = false, repackBelow: Double = 0.5,
                   progress: any ProgressReporter = SilentProgress()) throws(StoreError) -> GCReport {
        if let objects { return try fleetGC(objects: objects, dryRun: dryRun, repackBelow: repackBelow, progress: progress) }
        return try withLock(.exclusive) { () throws(StoreError) -> GCReport in
            let live = try referencedChunks()
            let packs = try packIndexes()
            let sizes = Dictionary(uniqueKeysWithValues: try catalog.packs().map { ($0.id, $0.size) })
            var report = GCReport(dryRun: dryRun, referencedChunks: live.count)

            let (toDelete, toRepack) = Self.classify(packs, live: live, repackBelow: repackBelow)
            let leftovers = try leftoverFiles(known: Set(packs.map(\.packID)))
            report.packsDeleted = toDelete.map(\.packID)
            report.packsRepacked = toRepack.map(\.packID)
            report.leftoverFilesRemoved = leftovers
            for pack in toDelete + toRepack {
                report.bytesFreed += sizes[pack.packID] ?? 0
                report.chunksRemoved += pack.entries.filter { !live.contains($0.id) }.count
            }
            for path in leftovers { report.bytesFreed += (try? FileSystem.fileSize(path)) ?? 0 }
            if dryRun { return report }

            // Copy the live chunks of mostly-dead packs into new packs (durable before the commit).
            let written = try repack(toRepack, from: packs, live: live, progress: progress)
            report.packsWritten = written.map(\.packID)
            for pack in written { report.bytesFreed -= pack.size }

            CrashPoint.hit("gc.before-commit")
            try catalog.replacePacks(removing: (toDelete + toRepack).map(\.packID), adding: written)
            CrashPoint.hit("gc.after-commit")
            // Unreferenced now: deleting them can only fail to free space, never lose data.
            for pack in toDelete + toRepack {
                try? FileSystem.remove(layout.packPath(for: pack.packID))
                CrashPoint.hit("gc.pack-deleted")
            }
            for path in leftovers { try? FileSystem.remove(path) }
            return report
        }
    }

    /// Pack files the catalog does not list and temporary files: what crashed writers left.
    /// Only meaningful under the exclusive lock (no writer is running).
    func leftoverFiles(known: Set<String>) throws(StoreError) -> [String] {
        var result: [String] = []
        try StoreError.wrap { () throws(IOError) in
            for fan in try FileSystem.list(layout.packsDirectory) where fan.count == 2 {
                for name in try FileSystem.list(layout.packsDirectory + "/" + fan) {
                    let id = name.hasSuffix(".pack") ? String(name.dropLast(5)) : name
                    if !known.contains(id) { result.append(layout.packsDirectory + "/" + fan + "/" + name) }
                }
            }
            for name in try FileSystem.list(layout.temporaryDirectory) {
                result.append(layout.temporaryDirectory + "/" + name)
            }
        }
        let images = Set(try catalog.imageIDs())
        for id in try manifestFiles.allIDs() where !images.contains(id) {
            result.append(manifestFiles.path(for: id))
        }
        return result
    }

    /// Packs with nothing live (to delete) and packs whose live bytes are below `repackBelow` of
    /// their payload (to repack). Counted in raw bytes: chunks share their frame's compression.
    static func classify(_ packs: [PackIndex], live: Set<ChunkID>, repackBelow: Double) -> (delete: [PackIndex], repack: [PackIndex]) {
        var toDelete: [PackIndex] = []
        var toRepack: [PackIndex] = []
        for pack in packs {
            let total = pack.rawBytes
            let liveBytes = pack.entries.reduce(Int64(0)) { live.contains($1.id) ? $0 + Int64($1.rawLength) : $0 }
            if liveBytes == 0 {
                toDelete.append(pack)
            } else if Double(liveBytes) < Double(total) * repackBelow {
                toRepack.append(pack)
            }
        }
        return (toDelete, toRepack)
    }

    /// Copies the live chunks of `toRepack` — each read back and verified — into new sealed packs.
    func repack(_ toRepack: [PackIndex], from packs: [PackIndex], live: Set<ChunkID>, progress: any ProgressReporter) throws(StoreError) -> [PackWriter.Sealed] {
        guard !toRepack.isEmpty else { return [] }
        var written: [PackWriter.Sealed] = []
        let index = ChunkIndex(packs: packs)
        let files = PackFiles(layout: layout, objects: objects)
        defer { files.close() }
        let reader = ChunkReader(index: index, packs: files, cipher: cipher)
        let writer = newPackWriter()
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.maxChunkLength, alignment: 64)
        defer { raw.deallocate() }
        progress.begin("repack", total: Int64(toRepack.reduce(0) { $0 + $1.entries.filter { live.contains($0.id) }.count }))
        defer { progress.end() }
        do throws(StoreError) {
            var seen = Set<ChunkID>()
            for pack in toRepack {
                for e in pack.entries where live.contains(e.id) && seen.insert(e.id).inserted {
                    let dest = UnsafeMutableRawBufferPointer(rebasing: raw[0..<e.rawLength])
                    try reader.read(e.id, into: dest, image: "(gc)")
                    try writer.append(id: e.id, raw: UnsafeRawBufferPointer(dest))
                    progress.advance(by: 1)
                }
            }
            written = try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
        return written
    }
}
