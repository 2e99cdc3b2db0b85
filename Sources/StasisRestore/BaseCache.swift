import Crypto
import Foundation
import StasisIO
import StasisSandbox
import StasisStore

/// Read-only copies of images already materialized on this host, by image id
/// (`STORE/cache/images/<id>.img`, mode 0444, each with its seal `<id>.img.seal`). A checkpoint
/// leaves its paused copies here, so a later restore of it or of a descendant patches a local file
/// instead of writing every chunk. Bounded by a byte budget; the oldest entries go first.
///
/// A base is trusted only while its seal (`FileSeal`) matches: a base written into after it was
/// adopted stops the restore that would use it; a base without a seal is never offered.
public struct BaseCache: Sendable {
    public let directory: String
    public var budgetBytes: Int64
    let storeRoot: String

    public init(store: ContentStore, budgetBytes: Int64 = 8 << 30) {
        storeRoot = store.layout.root
        directory = store.layout.root + "/cache/images"
        self.budgetBytes = budgetBytes
    }

    public func path(for imageID: String) -> String { directory + "/" + imageID + ".img" }

    /// Whether a sealed base of `imageID` is here (the seal itself is checked where it is used).
    public func contains(_ imageID: String) -> Bool {
        FileManager.default.fileExists(atPath: path(for: imageID)) && FileManager.default.fileExists(atPath: FileSeal.sealPath(for: path(for: imageID)))
    }

    /// Adopts `file` (the exact bytes of `imageID`, just verified by a capture) as a base: renamed
    /// in, made read-only, sealed. A file that cannot be sealed is dropped: it would never be used.
    public func adopt(_ file: String, as imageID: String) {
        try? FileSystem.createDirectory(directory, permissions: 0o700)
        let target = path(for: imageID)
        if FileManager.default.fileExists(atPath: target) { try? FileManager.default.removeItem(atPath: file); return }
        chmod(file, 0o444)
        guard rename(file, target) == 0 else { try? FileManager.default.removeItem(atPath: file); return }
        guard let key = try? CacheSealKey.load(storeRoot: storeRoot), FileSeal.seal(target, contentID: imageID, key: key) else {
            remove(imageID)
            return
        }
        trim()
    }

    /// Checks the base of `imageID` before (and after) a restore reads it.
    func checkSeal(_ imageID: String, checkpoint: String) throws(SandboxError) {
        let file = path(for: imageID)
        let key = try CacheSealKey.load(storeRoot: storeRoot)
        switch FileSeal.check(file, contentID: imageID, key: key) {
        case .intact: return
        case .unsealed:
            throw .inconsistent("the cached base \(file) for checkpoint \(checkpoint) has no seal: remove it to restore from the store")
        case .broken(let why):
            throw .inconsistent("the cached base \(file) (image \(imageID) of checkpoint \(checkpoint)) fails its seal: \(why); nothing was started — remove \(file) and its .seal to restore from the store, and find out who wrote it")
        }
    }

    func remove(_ imageID: String) {
        unlink(path(for: imageID))
        unlink(FileSeal.sealPath(for: path(for: imageID)))
    }

    /// Removes the oldest bases (with their seals) until the cache fits its budget.
    func trim() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        var entries: [(id: String, size: Int64, date: Date)] = names.filter { $0.hasSuffix(".img") }.map { name in
            let p = directory + "/" + name
            let size = (try? FileSystem.allocatedSize(p)) ?? 0
            let date = ((try? FileManager.default.attributesOfItem(atPath: p))?[.modificationDate] as? Date) ?? .distantPast
            return (String(name.dropLast(".img".count)), size, date)
        }
        var total = entries.reduce(0) { $0 + $1.size }
        entries.sort { $0.date < $1.date }
        for e in entries where total > budgetBytes {
            remove(e.id)
            total -= e.size
        }
    }
}
