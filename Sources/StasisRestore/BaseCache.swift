import Foundation
import StasisIO
import StasisStore

/// Read-only copies of images already materialized on this host, by image id
/// (`STORE/cache/images/<id>.img`, mode 0444). A checkpoint leaves its paused copies here, so a
/// later restore of it or of a descendant patches a local file instead of writing every chunk.
/// Bounded by a byte budget; the oldest entries go first.
public struct BaseCache: Sendable {
    public let directory: String
    public var budgetBytes: Int64

    public init(store: ContentStore, budgetBytes: Int64 = 8 << 30) {
        directory = store.layout.root + "/cache/images"
        self.budgetBytes = budgetBytes
    }

    public func path(for imageID: String) -> String { directory + "/" + imageID + ".img" }

    public func contains(_ imageID: String) -> Bool { FileManager.default.fileExists(atPath: path(for: imageID)) }

    /// Adopts `file` (the exact bytes of `imageID`) as a base: renamed in, made read-only.
    public func adopt(_ file: String, as imageID: String) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let target = path(for: imageID)
        if FileManager.default.fileExists(atPath: target) { try? FileManager.default.removeItem(atPath: file); return }
        chmod(file, 0o444)
        if rename(file, target) != 0 { try? FileManager.default.removeItem(atPath: file) }
        trim()
    }

    /// Removes the oldest bases until the cache fits its budget.
    func trim() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        var entries: [(path: String, size: Int64, date: Date)] = names.map { name in
            let p = directory + "/" + name
            let size = (try? FileSystem.allocatedSize(p)) ?? 0
            let date = ((try? FileManager.default.attributesOfItem(atPath: p))?[.modificationDate] as? Date) ?? .distantPast
            return (p, size, date)
        }
        var total = entries.reduce(0) { $0 + $1.size }
        entries.sort { $0.date < $1.date }
        for e in entries where total > budgetBytes {
            try? FileManager.default.removeItem(atPath: e.path)
            total -= e.size
        }
    }
}
