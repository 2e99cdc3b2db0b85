import Foundation
import StasisStore

/// Kernels and initrds as read-only files shared by every sandbox on this host
/// (`STORE/cache/blobs/<blob id>`, mode 0444): a restore links to them instead of writing 60 MB
/// per sandbox. They are bases, never written: the design allows read-only sharing.
public struct BootFileCache: Sendable {
    public let directory: String
    let store: ContentStore

    public init(store: ContentStore) {
        self.store = store
        directory = store.layout.root + "/cache/blobs"
    }

    public func path(for blobID: String) -> String { directory + "/" + blobID }

    /// The file holding blob `id`, written (verified) the first time.
    public func ensure(_ id: String) throws(StoreError) -> String {
        let target = path(for: id)
        if FileManager.default.fileExists(atPath: target) { return target }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let bytes = try store.blob(id)
        let tmp = target + ".tmp-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        guard FileManager.default.createFile(atPath: tmp, contents: Data(bytes), attributes: [.posixPermissions: 0o444]) else {
            throw .invalidArgument(field: "boot file cache", message: "cannot write \(tmp)")
        }
        if rename(tmp, target) != 0 { try? FileManager.default.removeItem(atPath: tmp) }
        return target
    }

    /// Whether `link` is a symlink to a read-only file of this cache.
    public func isSharedBase(_ link: String) -> Bool {
        guard let dest = try? FileManager.default.destinationOfSymbolicLink(atPath: link), dest.hasPrefix(directory + "/"),
              let attrs = try? FileManager.default.attributesOfItem(atPath: dest), (attrs[.posixPermissions] as? Int) == 0o444 else { return false }
        return true
    }
}
