import Crypto
import Foundation
import StasisSandbox
import StasisStore

/// A seal on a file of a host cache (a restore base, a kernel, an initrd): proof, without reading
/// the file, that it is still the exact file Stasis wrote from verified bytes.
///
/// When Stasis adopts a file it records the file's identity and change stamps — device, inode,
/// size, modification and status-change times (nanoseconds) — beside the content id it holds, and
/// MACs them (HMAC-SHA256) with the host's seal key (`STORE/keys/cache-seal.key`, 0600). Any write,
/// truncation, `chmod` or replacement of the file moves its status-change time (`st_ctime`), which
/// no unprivileged call can set back, or changes the inode; editing the seal needs the key. So a
/// seal that still matches means the bytes are the ones that were verified, and a check costs one
/// `stat`, not a read of a 1 GiB file. What it does not cover: an attacker who can read the key
/// (the same one who could read the store's signing key) or reset the system clock as root.
/// `Formats/host-cache.md` has the layout.
struct FileSeal: Equatable {
    var contentID: String
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedNanos: Int64
    var changedNanos: Int64

    static let magic = "stasis-seal-v1"

    /// The seal a file has now (from `lstat`: a symlink is never followed into somewhere else).
    static func current(of path: String, contentID: String) -> FileSeal? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileSeal(contentID: contentID, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                        modifiedNanos: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                        changedNanos: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec))
    }

    var text: String {
        "\(Self.magic)\n\(contentID)\n\(device)\n\(inode)\n\(size)\n\(modifiedNanos)\n\(changedNanos)\n"
    }

    static func sealPath(for path: String) -> String { path + ".seal" }

    /// Seals `path` as holding `contentID`: writes `PATH.seal` (the stamps and their MAC).
    static func seal(_ path: String, contentID: String, key: SymmetricKey) -> Bool {
        guard let seal = current(of: path, contentID: contentID) else { return false }
        let mac = StoreKey.hex(HMAC<SHA256>.authenticationCode(for: Data(seal.text.utf8), using: key))
        let target = sealPath(for: path)
        let tmp = target + ".tmp-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        guard FileManager.default.createFile(atPath: tmp, contents: Data((seal.text + mac + "\n").utf8),
                                             attributes: [.posixPermissions: 0o600]) else { return false }
        guard rename(tmp, target) == 0 else { unlink(tmp); return false }
        return true
    }

    enum Verdict: Equatable {
        /// The file is exactly what was sealed.
        case intact
        /// No seal (a cache written by an older Stasis, or an interrupted adoption): not trusted.
        case unsealed
        /// The seal does not match the file, or its MAC is wrong: the file or the seal was changed.
        case broken(String)
    }

    /// Checks `path` against its seal.
    static func check(_ path: String, contentID: String, key: SymmetricKey) -> Verdict {
        guard let text = try? String(contentsOfFile: sealPath(for: path), encoding: .utf8) else { return .unsealed }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard lines.count == 8, lines[0] == magic, let mac = lines.last else { return .broken("its seal file is malformed") }
        let body = lines.dropLast().joined(separator: "\n") + "\n"
        guard let macBytes = StoreKey.bytes(fromHex: mac),
              HMAC<SHA256>.isValidAuthenticationCode(macBytes, authenticating: Data(body.utf8), using: key) else {
            return .broken("its seal's MAC does not verify (the seal was edited, or made with another key)")
        }
        guard lines[1] == contentID else { return .broken("it is sealed as \(lines[1]), not \(contentID)") }
        guard let now = current(of: path, contentID: contentID) else { return .broken("it is missing or not a regular file") }
        guard now.text == body else { return .broken("it changed after it was sealed (size, inode or change time differ)") }
        return .intact
    }
}

/// The host's key for cache seals: 32 random bytes in `STORE/keys/cache-seal.key`, created on first
/// use, refused when others can read or write it.
enum CacheSealKey {
    static func path(storeRoot: String) -> String { storeRoot + "/keys/cache-seal.key" }

    static func load(storeRoot: String) throws(SandboxError) -> SymmetricKey {
        let path = path(storeRoot: storeRoot)
        if let key = try read(path, storeRoot: storeRoot) { return key }
        try? FileManager.default.createDirectory(atPath: storeRoot + "/keys", withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        let fresh = SymmetricKey(size: .bits256)
        let tmp = path + ".tmp-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let bytes = fresh.withUnsafeBytes { Data($0) }
        guard FileManager.default.createFile(atPath: tmp, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
            throw .io("create \(tmp)", errno)
        }
        // Two processes may race to create it: the first rename wins and both use what is there.
        if link(tmp, path) != 0 && errno != EEXIST { let e = errno; unlink(tmp); throw .io("create \(path)", e) }
        unlink(tmp)
        guard let key = try read(path, storeRoot: storeRoot) else { throw .io("read \(path)", EIO) }
        return key
    }

    private static func read(_ path: String, storeRoot: String) throws(SandboxError) -> SymmetricKey? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .inconsistent("\(path) is not a regular file") }
        guard st.st_mode & 0o077 == 0 else {
            throw .inconsistent("\(path) can be read or written by others (mode \(String(st.st_mode & 0o777, radix: 8))): run `chmod 600 \(path)`")
        }
        guard let data = FileManager.default.contents(atPath: path), data.count == 32 else {
            throw .inconsistent("\(path) is not a 32-byte key: remove it together with \(storeRoot)/cache (cached copies are rebuilt from the store)")
        }
        return SymmetricKey(data: data)
    }
}
