import Crypto
import Foundation
import StasisIO
import StasisSandbox
import StasisStore

/// Kernels and initrds as read-only files shared by every sandbox on this host
/// (`STORE/cache/blobs/<blob id>`, mode 0444, sealed by `<blob id>.seal`): a restore links to them
/// instead of writing 60 MB per sandbox. They are bases, never written: the design allows
/// read-only sharing. A blob id is the SHA-256 of the blob's bytes, so a file without a seal is
/// checked by hashing it; a file whose seal is broken stops the restore.
public struct BootFileCache: Sendable {
    public let directory: String
    let store: ContentStore

    public init(store: ContentStore) {
        self.store = store
        directory = store.layout.root + "/cache/blobs"
    }

    public func path(for blobID: String) -> String { directory + "/" + blobID }

    /// The file holding blob `id`, written from the store (verified) the first time, checked
    /// against its seal every time.
    public func ensure(_ id: String) throws(SandboxError) -> String {
        let target = path(for: id)
        let key = try CacheSealKey.load(storeRoot: store.layout.root)
        if FileManager.default.fileExists(atPath: target) {
            switch FileSeal.check(target, contentID: id, key: key) {
            case .intact:
                return target
            case .broken(let why):
                throw .inconsistent("the cached boot file \(target) fails its seal: \(why); nothing was started — remove \(target) and its .seal to have it rewritten from the store")
            case .unsealed:
                // Written by an older Stasis: trusted once its bytes hash to the blob id.
                guard let bytes = FileManager.default.contents(atPath: target), StoreKey.hex(SHA256.hash(data: bytes)) == id else {
                    throw .inconsistent("the cached boot file \(target) does not hash to blob \(id): nothing was started — remove it to have it rewritten from the store")
                }
                guard FileSeal.seal(target, contentID: id, key: key) else { throw .io("seal \(target)", errno) }
                return target
            }
        }
        try? FileSystem.createDirectory(directory, permissions: 0o700)
        let bytes: [UInt8]
        do { bytes = try store.blob(id) } catch { throw .store("boot file \(id): \(error.description)", cause: error) }
        let tmp = target + ".tmp-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        guard FileManager.default.createFile(atPath: tmp, contents: Data(bytes), attributes: [.posixPermissions: 0o444]) else {
            throw .io("write \(tmp)", errno)
        }
        // Another restore may have put it in place meanwhile: either copy is the verified bytes.
        if rename(tmp, target) != 0 { unlink(tmp) }
        guard FileSeal.seal(target, contentID: id, key: key) else { throw .io("seal \(target)", errno) }
        return target
    }

    /// Adopts `file`, whose bytes were just stored as blob `id`, as the host's copy (unless one is
    /// here already), sealed; `file` itself is removed.
    func adopt(_ file: String, as id: String) throws(SandboxError) {
        let target = path(for: id)
        try? FileSystem.createDirectory(directory, permissions: 0o700)
        if !FileManager.default.fileExists(atPath: target) {
            chmod(file, 0o444)
            if rename(file, target) == 0 {
                let key = try CacheSealKey.load(storeRoot: store.layout.root)
                guard FileSeal.seal(target, contentID: id, key: key) else { throw .io("seal \(target)", errno) }
            }
        }
        unlink(file)
        _ = try ensure(id)
    }

    /// Checks a boot file already in use against its seal (before a sandbox starts from it).
    func checkSeal(_ id: String) throws(SandboxError) {
        let target = path(for: id)
        let key = try CacheSealKey.load(storeRoot: store.layout.root)
        guard case .intact = FileSeal.check(target, contentID: id, key: key) else {
            throw .inconsistent("the cached boot file \(target) changed while a restore used it: nothing was started — remove it and its .seal and try again")
        }
    }

    /// Whether `link` is a symlink to a read-only file of this cache.
    public func isSharedBase(_ link: String) -> Bool {
        guard let dest = try? FileManager.default.destinationOfSymbolicLink(atPath: link), dest.hasPrefix(directory + "/"),
              let attrs = try? FileManager.default.attributesOfItem(atPath: dest), (attrs[.posixPermissions] as? Int) == 0o444 else { return false }
        return true
    }
}
