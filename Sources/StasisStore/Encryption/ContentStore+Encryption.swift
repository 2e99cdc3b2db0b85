import Crypto
import Foundation
import StasisIO

/// What `stasis key show` prints about a store's encryption (never a key itself).
public struct EncryptionInfo: Sendable, Codable {
    public var algorithm: String?
    /// Where the master key came from: a path, or the environment variable's name.
    public var masterKeySource: String?
    public var masterKeyFingerprint: String?
    public var dataKeys: [UInt32]
    public var currentDataKey: UInt32?
}

extension ContentStore {
    /// Sets up encryption in a new store: a master key (the environment's, or a new one written
    /// to `keys/master.key`) and a first data key wrapped by it in the catalog.
    static func enableEncryption(_ catalog: Catalog, layout: StoreLayout, environment: [String: String],
                                 created: inout CreatedPaths) throws(StoreError) -> StoreCipher {
        let master: MasterKey
        if let fromEnvironment = try MasterKey.load(layout, environment: environment) {
            master = fromEnvironment
        } else {
            let path = MasterKey.path(layout)
            master = MasterKey.generate(source: path)
            try master.write(to: path)
            created.files.append(path)
        }
        let dataKey = SymmetricKey(size: .bits256)
        try catalog.enableEncryption(firstKey: WrappedDataKey(id: 1, wrapped: master.wrap(dataKey, id: 1), masterFingerprint: master.fingerprint))
        return StoreCipher(currentKeyID: 1, keys: [1: dataKey])
    }

    /// The cipher of an encrypted store (nil for a store created without encryption): its data
    /// keys unwrapped by the master key. A rotation interrupted after the catalog re-wrapped the
    /// keys but before the new key file took its name is finished here.
    static func loadCipher(_ catalog: Catalog, layout: StoreLayout, environment: [String: String]) throws(StoreError) -> StoreCipher? {
        guard let algorithm = try catalog.meta("encryption") else { return nil }
        guard algorithm == StoreCipher.algorithm else {
            throw .encryption(subject: catalog.location, message: "the store is encrypted with '\(algorithm)', which this stasis does not know: upgrade stasis")
        }
        let wrapped = try catalog.dataKeys()
        guard let current = try catalog.meta("data_key_current").flatMap({ UInt32($0) }),
              wrapped.contains(where: { $0.id == current }) else {
            throw .encryption(subject: catalog.location, message: "the catalog names no current data key among its data_keys rows: the catalog is damaged; restore it from a copy")
        }
        guard var master = try MasterKey.load(layout, environment: environment) else {
            throw .encryption(subject: MasterKey.path(layout), message: "the store is encrypted and its master key is missing: copy keys/master.key from a host of this store (mode 0600), or set \(MasterKey.environmentVariable)")
        }
        if master.source == MasterKey.path(layout), FileSystem.exists(MasterKey.pendingPath(layout)) {
            let pending = try MasterKey.load(path: MasterKey.pendingPath(layout))
            if wrapped.first?.masterFingerprint == pending.fingerprint {
                // Cut after the commit: the pending key is the store's now.
                try StoreError.wrap { () throws(IOError) in try FileSystem.renameDurably(MasterKey.pendingPath(layout), to: MasterKey.path(layout)) }
                master = MasterKey(key: pending.key, source: MasterKey.path(layout))
            } else if wrapped.first?.masterFingerprint == master.fingerprint {
                // Cut before the commit: the rotation did not happen.
                try? FileSystem.remove(MasterKey.pendingPath(layout))
            }
        }
        var keys: [UInt32: SymmetricKey] = [:]
        for key in wrapped { keys[key.id] = try master.unwrap(key.wrapped, id: key.id) }
        return StoreCipher(currentKeyID: current, keys: keys)
    }

    /// The master key this host uses (for `stasis key export`, to set up another host).
    public func masterKey(environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) -> MasterKey {
        guard cipher != nil else {
            throw .encryption(subject: layout.root, message: "this store was created without encryption: it has no master key")
        }
        guard let key = try MasterKey.load(layout, environment: environment) else {
            throw .encryption(subject: MasterKey.path(layout), message: "the master key is missing")
        }
        return key
    }

    /// Writes the master key to a new file `path` (mode 0600); refuses an existing file.
    public func exportMasterKey(to path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) -> MasterKey {
        let key = try masterKey(environment: environment)
        guard !FileSystem.exists(path) else {
            throw .outputExists(path: path)
        }
        try key.write(to: path)
        return key
    }

    public func encryptionInfo(environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) -> EncryptionInfo {
        guard let cipher else { return EncryptionInfo(algorithm: nil, dataKeys: []) }
        let master = try MasterKey.load(layout, environment: environment)
        return EncryptionInfo(algorithm: StoreCipher.algorithm, masterKeySource: master?.source,
                              masterKeyFingerprint: master?.fingerprint, dataKeys: cipher.keyIDs, currentDataKey: cipher.currentKeyID)
    }

    /// Replaces the master key: every data key is re-wrapped under `newKey` (a new random key
    /// unless given) in one catalog transaction; no pack is rewritten. With `newDataKey`, a new
    /// data key also becomes the one new data is sealed with (old data keeps its key).
    ///
    /// The new key file is written first as `keys/master.key.next`, then the catalog commits, then
    /// the file takes its name: a crash at any point leaves a key that opens the store (opening
    /// finishes the rename). Other hosts of a fleet store need the new key copied to them.
    /// A store whose master key comes from the environment gets no key file: the caller stores
    /// the returned key where the environment gets it from.
    public func rotateMasterKey(to newKey: MasterKey? = nil, newDataKey: Bool = false,
                                environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) -> MasterKey {
        guard let cipher else {
            throw .encryption(subject: layout.root, message: "this store was created without encryption: there is no key to rotate")
        }
        let current = try masterKey(environment: environment)
        let fromEnvironment = current.source == MasterKey.environmentVariable
        let next = newKey ?? MasterKey.generate(source: fromEnvironment ? "new key" : MasterKey.path(layout))
        let wrapped = try catalog.dataKeys()
        var rewrapped: [WrappedDataKey] = []
        for key in wrapped {
            let dataKey = try current.unwrap(key.wrapped, id: key.id)
            rewrapped.append(WrappedDataKey(id: key.id, wrapped: next.wrap(dataKey, id: key.id), masterFingerprint: next.fingerprint))
        }
        var added: WrappedDataKey?
        if newDataKey {
            let id = (cipher.keyIDs.max() ?? 0) + 1
            added = WrappedDataKey(id: id, wrapped: next.wrap(SymmetricKey(size: .bits256), id: id), masterFingerprint: next.fingerprint)
        }
        if !fromEnvironment { try next.write(to: MasterKey.pendingPath(layout)) }
        CrashPoint.hit("key-rotate.before-commit")
        try catalog.rewrapDataKeys(rewrapped, adding: added)
        CrashPoint.hit("key-rotate.after-commit")
        if !fromEnvironment {
            try StoreError.wrap { () throws(IOError) in try FileSystem.renameDurably(MasterKey.pendingPath(layout), to: MasterKey.path(layout)) }
        }
        return next
    }
}
