import Foundation
import StasisStore

/// What a restore will do, before it does it: explainable (`--explain`), machine-readable
/// (`--json`), and executed exactly as planned.
public struct RestorePlan: Sendable, Codable {
    public struct Image: Sendable, Codable {
        public var name: String
        public var image: String
        public var file: String
        public var size: Int64
        public var dataBytes: Int64
        /// The nearest ancestor image already materialized on this host, patched instead of
        /// writing every chunk.
        public var base: String?
        public var baseCheckpoint: String?
        /// Chunks to read from the store and their packs (reads are grouped by pack, in order).
        public var chunksToWrite: Int
        public var bytesToWrite: Int64
        public var packs: Int
        /// Where those packs come from on this host: its directory, whole downloads, or ranged
        /// GETs of only the frames needed (a fleet store). Worked out for `restore plan`; a
        /// restore itself decides the same way as it reads, without loading the index twice.
        public var sources: PackSources?
        public var writable: Bool
        /// Served on first touch by a page server instead of written before the VM starts
        /// (Formats/lazy-restore.md); `chunksToWrite` are then fetched in the background.
        public var lazy: Bool = false
        /// For a lazy image: the checkpoint's recorded access order (its length and blob), which
        /// the page server prefetches first; nil when none is recorded (this restore records one).
        public var recordedOrderChunks: Int?
        public var recordedOrderBlob: String?
    }
    public struct Blob: Sendable, Codable {
        public var name: String
        public var blob: String
        public var file: String
        public var writable: Bool
    }
    public struct Identity: Sendable, Codable {
        public var sandbox: String
        public var mac: String
        public var vsockCID: UInt32
        public var machineID: String
    }

    public var checkpoint: String
    /// The checkpoint's session (a fork runs in a new session of its own).
    public var session: String
    public var directory: String
    public var images: [Image]
    public var blobs: [Blob]
    public var identity: Identity
    public var previousIdentity: Identity?
    public var accelerator: String
    /// The checks the executor makes before starting the VM.
    public var isolationChecks: [String]

    public var explanation: String {
        var lines = ["restore checkpoint \(checkpoint) of session \(session)",
                     "into a new sandbox directory \(directory) (it must not exist)",
                     "new identity: sandbox \(identity.sandbox), MAC \(identity.mac), vsock CID \(identity.vsockCID), machine id \(identity.machineID)"]
        if let p = previousIdentity { lines.append("  (the checkpoint's sandbox was \(p.sandbox), MAC \(p.mac))") }
        for i in images {
            let how = i.lazy ? "lazy: mounted from the store and served on first touch (FUSE page server), each chunk verified; \(i.chunksToWrite) chunks hydrated in the background after the VM starts" : i.base.map { "patch a copy of local base \($0.prefix(12)) (from checkpoint \(i.baseCheckpoint?.prefix(12) ?? "?")): \(i.chunksToWrite) chunks to write" }
                ?? "write \(i.chunksToWrite) chunks from \(i.packs) pack(s)"
            lines.append("image \(i.name) \(i.image.prefix(12)) → \(i.file) (\(i.size) bytes, private, writable): \(how), \(i.bytesToWrite) bytes")
            if let sources = i.sources { lines.append("  packs: " + Self.describe(sources)) }
            if i.lazy {
                if let n = i.recordedOrderChunks {
                    lines.append("  prefetch: recorded access order of \(n) chunks (blob \(i.recordedOrderBlob?.prefix(12) ?? "?")), fetched first by \(PageServer.prefetchWorkers) workers from the mount on, then the rest in image order")
                } else {
                    lines.append("  prefetch: no recorded access order; this restore records one (chunks in order of first touch) and stores it with the checkpoint")
                }
            }
        }
        for b in blobs {
            lines.append("blob \(b.name) \(b.blob.prefix(12)) → \(b.file) (\(b.writable ? "private, writable" : "private, read-only"))")
        }
        lines.append("accelerator: \(accelerator)")
        lines.append("checks before start:")
        lines += isolationChecks.map { "  - " + $0 }
        return lines.joined(separator: "\n")
    }

    static func describe(_ s: PackSources) -> String {
        var parts: [String] = []
        if s.cachedPacks > 0 || (s.wholePacks == 0 && s.rangedPacks == 0) {
            parts.append("\(s.cachedPacks) on this host (\(mebibytes(s.cachedBytes)) read)")
        }
        if s.wholePacks > 0 { parts.append("\(s.wholePacks) downloaded whole into the cache (\(mebibytes(s.wholeBytes)))") }
        if s.rangedPacks > 0 {
            parts.append("\(s.rangedRequests) ranged GET(s) of only the frames needed from \(s.rangedPacks) more (\(mebibytes(s.rangedBytes)))")
        }
        let from = s.objects.map { s.fetchedBytes > 0 ? "; from \($0)" : "" } ?? ""
        return parts.joined(separator: ", ") + from
    }

    static func mebibytes(_ bytes: Int64) -> String {
        String(format: "%.1f MiB", Double(bytes) / 1_048_576)
    }
}
