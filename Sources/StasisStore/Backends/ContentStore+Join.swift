import Foundation
import StasisCatalog
import StasisIO

extension ContentStore {
    /// Adds this host to a fleet store that another host created: writes the descriptor, and a
    /// copy of the store's signing key (`keyFile`, copied from a host of the store), into
    /// `root`. The key must be the store's — its public key is the one in the catalog — so that
    /// checkpoints signed here verify everywhere. Changes nothing shared.
    ///
    /// An encrypted store also needs its master key: `masterKeyFile`, else `master.key` beside
    /// `keyFile` (a copy of another host's `keys/`), else `STASIS_MASTER_KEY`. It must open the
    /// store's data keys before anything is written here.
    public static func join(at root: String, backends: StoreBackends, keyFile: String, masterKeyFile: String? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) -> ContentStore {
        guard let descriptor = backends.descriptor else {
            throw .invalidArgument(field: "--key", message: "joining names a shared store: give --catalog postgres://… and --objects s3://… too")
        }
        let layout = StoreLayout(root: FileSystem.absolute(root))
        if FileSystem.exists(layout.catalogPath) || FileSystem.exists(layout.descriptorPath) { throw .storeExists(path: root) }
        let key = try StoreKey.load(path: keyFile)
        _ = try SharedObjects.open(descriptor, layout: layout, environment: environment)
        let database = try StoreBackends.openCatalog(layout, descriptor: descriptor, environment: environment)
        let catalog = try Catalog.open(database, storeRoot: root)
        guard let storeKey = try catalog.meta("public_key") else {
            throw .catalog(path: catalog.location, message: "no store there to join: create it with `stasis init` (without --key) on the first host")
        }
        guard storeKey == key.publicKeyHex else {
            throw .invalidArgument(field: "--key", message: "\(keyFile) is not this store's key (its public key is \(key.publicKeyHex.prefix(16))…, the store's \(storeKey.prefix(16))…): copy keys/store.ed25519 from a host of this store")
        }
        var master: MasterKey?
        if try catalog.meta("encryption") != nil {
            let beside = FileSystem.parent(of: FileSystem.absolute(keyFile)) + "/master.key"
            if let path = masterKeyFile ?? (FileSystem.exists(beside) ? beside : nil) {
                master = try MasterKey.load(path: path)
            } else if environment[MasterKey.environmentVariable]?.isEmpty == false {
                master = nil   // the environment's key, read again on every open
            } else {
                throw .encryption(subject: "--master-key", message: "the store is encrypted: give its master key with --master-key FILE (a copy of keys/master.key from a host of this store) or set \(MasterKey.environmentVariable)")
            }
            // Refuse a wrong key before anything is written.
            let probe: MasterKey
            if let master { probe = master } else { probe = try MasterKey(hex: environment[MasterKey.environmentVariable]!, source: MasterKey.environmentVariable) }
            for wrapped in try catalog.dataKeys() { _ = try probe.unwrap(wrapped.wrapped, id: wrapped.id) }
        }
        database.close()
        var created = try createDirectories(layout, embeddedCatalog: false)
        do throws(StoreError) {
            if let master {
                try master.write(to: MasterKey.path(layout))
                created.files.append(MasterKey.path(layout))
            }
            _ = try StoreKey.create(layout, key: key.privateKey)
            try StoreError.wrap { () throws(IOError) in try setMode(StoreLayout.fileMode, of: layout.keyPath) }
            try descriptor.write(layout)
        } catch {
            created.undo()
            throw error
        }
        return try open(at: root, environment: environment)
    }
}
