import Foundation
import StasisStore

/// What `stasis diff A B` reports.
public struct CheckpointDiff: Sendable, Codable {
    public var before: String
    public var after: String
    public var images: [ImageDiff]
    /// Blobs (device state, config, …) whose contents differ, by name.
    public var changedBlobs: [String]
    /// Events between the two checkpoints' history positions.
    public var eventsBetween: Int64
}

extension SessionStore {
    /// Compares two checkpoints: memory pages and disk blocks changed (counts and ranges), blobs
    /// changed, and — for disks that hold an ext4 file system — the files added, removed and
    /// modified, read from the images through libext2fs, never by mounting.
    public func diff(_ a: String, _ b: String, files: Bool = true) throws(HistoryError) -> CheckpointDiff {
        let before = try checkpoint(a), after = try checkpoint(b)
        var images: [ImageDiff] = []
        for name in Set(before.record.images.keys).union(after.record.images.keys).sorted() {
            func load(_ id: String?) throws(HistoryError) -> (String, ImageManifest)? {
                guard let id else { return nil }
                return (id, try HistoryError.wrap { () throws(StoreError) in try store.manifest(of: id) })
            }
            var d = ImageDiff.compare(name: name, before: try load(before.record.images[name]), after: try load(after.record.images[name]))
            if files, name.hasPrefix("disk:"), let x = d.before, let y = d.after {
                d.files = try fileChanges(before: x, after: y, diff: d)
            }
            images.append(d)
        }
        let blobs = Set(before.record.blobs.keys).union(after.record.blobs.keys).sorted().filter { before.record.blobs[$0] != after.record.blobs[$0] }
        return CheckpointDiff(before: before.id, after: after.id, images: images, changedBlobs: blobs,
                              eventsBetween: after.record.historySize - before.record.historySize)
    }
}
