import Crypto
import Foundation
import StasisCatalog
import StasisStore

/// One thing wrong with a stored checkpoint. The catalog is not trusted: a record is believed
/// only when its bytes hash to its id, the id is signed by a key this store trusts, the catalog
/// row and its references say what the record says, and everything it names is there.
public enum CheckpointDamage: Error, Sendable, CustomStringConvertible {
    /// The stored record is not a canonical checkpoint record of version 1 or 2.
    case recordNotCanonical
    /// The record's bytes hash to another id: the record was rewritten after it was signed.
    case idMismatch(recordHashesTo: String)
    /// A column of the `checkpoints` row disagrees with the signed record.
    case columnMismatch(column: String, stored: String, record: String)
    /// The signature does not verify with the key that must have signed the checkpoint.
    case badSignature(signer: String)
    /// The row names a foreign signer that this store's key never accepted (at bundle import)
    /// for this session.
    case untrustedSigner(key: String, session: String)
    /// The `checkpoint_refs` rows are not the record's images and blobs.
    case referencesMismatch(record: [String], stored: [String])
    case missingImage(name: String, image: String)
    /// The image's manifest cannot be read or does not hash to the image id.
    case unreadableImage(name: String, image: String, cause: StoreError)
    /// The image's catalog row gives another size than its manifest.
    case imageSizeMismatch(name: String, image: String, catalog: Int64, manifest: Int64)
    case missingBlob(name: String, blob: String)
    /// The blob's manifest cannot be decoded or disagrees with its catalog row.
    case unreadableBlob(name: String, blob: String, cause: StoreError)

    public var description: String {
        switch self {
        case .recordNotCanonical:
            return "its stored record is not a canonical checkpoint record of version 1 or 2"
        case .idMismatch(let actual):
            return "its stored record hashes to \(actual), not to its id: the record was rewritten after it was signed"
        case .columnMismatch(let column, let stored, let record):
            return "its catalog column \(column) is '\(stored)' but the signed record says '\(record)'"
        case .badSignature(let signer):
            return "its signature does not verify with \(signer)"
        case .untrustedSigner(let key, let session):
            return "it claims to be signed by key \(key), which this store never accepted for session \(session) (only `bundle import` admits another key)"
        case .referencesMismatch(let record, let stored):
            return "its checkpoint_refs rows (\(stored.joined(separator: ", "))) are not the record's images and blobs (\(record.joined(separator: ", ")))"
        case .missingImage(let name, let image):
            return "image \(name) (\(image)) is not in the catalog"
        case .unreadableImage(let name, let image, let cause):
            return "image \(name) (\(image)) cannot be read: \(cause.description)"
        case .imageSizeMismatch(let name, let image, let catalog, let manifest):
            return "image \(name) (\(image)) is \(catalog) bytes in the catalog but \(manifest) bytes in its manifest"
        case .missingBlob(let name, let blob):
            return "blob \(name) (\(blob)) is not in the catalog"
        case .unreadableBlob(let name, let blob, let cause):
            return "blob \(name) (\(blob)) cannot be read: \(cause.description)"
        }
    }
}

/// Why `SessionStore.verifiedCheckpoint(_:)` refused a checkpoint.
public enum CheckpointVerificationError: Error, Sendable, CustomStringConvertible {
    /// The checkpoint could not be looked up or checked at all (unknown or ambiguous id, an
    /// unreadable catalog, a missing or unsafe store key): the cause says which.
    case notChecked(HistoryError)
    /// The checkpoint is stored but must not be believed; every problem found is listed.
    case damaged(checkpoint: String, damage: [CheckpointDamage])

    public var description: String {
        switch self {
        case .notChecked(let cause): return cause.description
        case .damaged(let id, let damage):
            return "checkpoint \(id) is damaged or was tampered with: " + damage.map(\.description).joined(separator: "; ")
                + "; it must not be restored — restore another checkpoint, or re-import the session from a bundle"
        }
    }
}

extension SessionStore {
    /// The checkpoint `idOrPrefix`, after checking everything it is believed for: its record's
    /// bytes hash to its id; the id's signature verifies with the store's key (from
    /// `keys/store.ed25519`, not from the catalog), or with the key of an imported session that
    /// this store's key attested at import; the catalog row (session, parent, history size,
    /// creation time) and its `checkpoint_refs` rows agree with the record; every image it names
    /// is in the catalog with a manifest that hashes to its id and gives the size the catalog
    /// gives; every blob it names is in the catalog with a manifest of the catalog's size.
    /// Chunk contents are not read here: every chunk read verifies itself.
    ///
    ///     let c = try sessions.verifiedCheckpoint(id)   // before restoring anything from it
    public func verifiedCheckpoint(_ idOrPrefix: String) throws(CheckpointVerificationError) -> Checkpoint {
        let id: String
        let inspected: (checkpoint: Checkpoint?, damage: [CheckpointDamage])
        do throws(HistoryError) {
            id = try resolveCheckpoint(idOrPrefix)
            inspected = try inspectCheckpoint(id)
        } catch {
            throw .notChecked(error)
        }
        guard inspected.damage.isEmpty, let checkpoint = inspected.checkpoint else {
            throw .damaged(checkpoint: id, damage: inspected.damage.isEmpty ? [.recordNotCanonical] : inspected.damage)
        }
        return checkpoint
    }

    /// Everything wrong with checkpoint `id` (a full id), empty when it checks out; the verifiers
    /// use this to report every damaged checkpoint instead of stopping at the first.
    public func checkpointDamage(_ id: String) throws(HistoryError) -> [CheckpointDamage] {
        try inspectCheckpoint(id).damage
    }

    /// The stored checkpoint (nil when its record cannot be decoded) and what is wrong with it.
    func inspectCheckpoint(_ id: String) throws(HistoryError) -> (checkpoint: Checkpoint?, damage: [CheckpointDamage]) {
        let storeKey = try signingKey()
        struct Stored {
            var row: CatalogRow
            var refs: [String]
            var attested: Bool
        }
        let stored: Stored = try read { db in
            guard let row = try db.queryOne("""
                SELECT id, session_id, parent_id, created_at, history_size, record, signature, signer_key
                FROM checkpoints WHERE id = ?
                """, id) else { throw HistoryError.checkpointNotFound(id) }
            let refs = try db.query("SELECT name, kind, target FROM checkpoint_refs WHERE checkpoint_id = ? ORDER BY kind, name", id)
                .map { Self.referenceText(kind: $0.shown("kind"), name: $0.shown("name"), target: $0.shown("target")) }
            var attested = true
            if !row.isNull("signer_key") {
                attested = try Self.isTrustedSigner(db, session: row.shown("session_id"), signer: row.shown("signer_key"), storeKey: storeKey.publicKeyHex)
            }
            return Stored(row: row, refs: refs.sorted(), attested: attested)
        }
        let row = stored.row
        // Every column is read leniently: a value of another type is damage, not a crash.
        let bytes = row.optionalBlob("record") ?? []
        let signature = row.optionalBlob("signature") ?? []
        let signerColumn: String? = row.isNull("signer_key") ? nil : row.shown("signer_key")
        let session = row.shown("session_id")
        var damage: [CheckpointDamage] = []

        let actual = StoreKey.hex(SHA256.hash(data: bytes))
        if actual != id { damage.append(.idMismatch(recordHashesTo: actual)) }
        let signer = signerColumn ?? storeKey.publicKeyHex
        if !stored.attested { damage.append(.untrustedSigner(key: signer, session: session)) }
        if !StoreKey.verify(signature: signature, message: CheckpointRecord.signedMessage(id: id), publicKeyHex: signer) {
            damage.append(.badSignature(signer: signerColumn == nil ? "this store's key (\(signer))" : "key \(signer)"))
        }
        guard let record = CheckpointRecord.decode(bytes) else {
            return (nil, [.recordNotCanonical] + damage)
        }

        // The catalog row's columns are what listings, retention and restore ancestry read.
        if session != record.session { damage.append(.columnMismatch(column: "session_id", stored: session, record: record.session)) }
        let parent: String? = row.isNull("parent_id") ? nil : row.shown("parent_id")
        if parent != record.parent { damage.append(.columnMismatch(column: "parent_id", stored: parent ?? "NULL", record: record.parent ?? "NULL")) }
        if row.optionalInt("history_size") != record.historySize {
            damage.append(.columnMismatch(column: "history_size", stored: row.shown("history_size"), record: String(record.historySize)))
        }
        // Written as "not within", so that a value that is no number at all (NaN) is damage too.
        let created = row.optionalDouble("created_at")
        if !(created.map { abs($0 - Double(record.createdAt) / 1e9) <= 1e-3 } ?? false) {
            damage.append(.columnMismatch(column: "created_at", stored: row.shown("created_at"), record: String(Double(record.createdAt) / 1e9)))
        }
        let expected = (record.images.map { Self.referenceText(kind: "image", name: $0.key, target: $0.value) }
            + record.blobs.map { Self.referenceText(kind: "blob", name: $0.key, target: $0.value) }).sorted()
        if expected != stored.refs { damage.append(.referencesMismatch(record: expected, stored: stored.refs)) }

        for (name, image) in record.images.sorted(by: { $0.key < $1.key }) {
            do throws(StoreError) {
                guard let row = try store.catalog.image(image) else { damage.append(.missingImage(name: name, image: image)); continue }
                let manifest = try store.manifest(of: image)
                if manifest.imageSize != row.size {
                    damage.append(.imageSizeMismatch(name: name, image: image, catalog: row.size, manifest: manifest.imageSize))
                }
            } catch {
                damage.append(.unreadableImage(name: name, image: image, cause: error))
            }
        }
        for (name, blob) in record.blobs.sorted(by: { $0.key < $1.key }) {
            do throws(StoreError) {
                _ = try store.blobManifest(blob)
            } catch {
                if case .blobNotFound = error { damage.append(.missingBlob(name: name, blob: blob)) } else {
                    damage.append(.unreadableBlob(name: name, blob: blob, cause: error))
                }
            }
        }
        return (Checkpoint(id: id, record: record, signature: signature, signerKey: signerColumn), damage)
    }

    static func referenceText(kind: String, name: String, target: String) -> String { "\(kind) \(name)=\(target)" }

    // MARK: - Foreign signers

    /// Where the store key's acceptance of a foreign signer for a session is kept: a
    /// `store_meta` row whose value is the store key's signature (hex) over `signerMessage`.
    static func signerMetaKey(session: String, signer: String) -> String { "trusted-signer:\(session):\(signer.lowercased())" }

    static func signerMessage(session: String, signer: String) -> [UInt8] {
        Array("stasis-trusted-signer-v1\n\(session)\n\(signer.lowercased())".utf8)
    }

    /// Records, inside the caller's transaction, that the store key accepts `signer` for
    /// `session` (bundle import, after the bundle verified).
    static func trustSigner(_ db: any CatalogConnection, session: String, signer: String, key: StoreKey) throws {
        let signature = try key.sign(signerMessage(session: session, signer: signer))
        try db.execute("INSERT INTO store_meta(key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       signerMetaKey(session: session, signer: signer), StoreKey.hex(signature))
    }

    /// Whether the store key accepted `signer` for `session`: a catalog row naming another key
    /// is believed only with that acceptance, which nobody without the store key can forge.
    static func isTrustedSigner(_ db: any CatalogConnection, session: String, signer: String, storeKey: String) throws -> Bool {
        if signer.lowercased() == storeKey { return true }
        guard let value = try db.queryOne("SELECT value FROM store_meta WHERE key = ?", signerMetaKey(session: session, signer: signer))?
                .optionalText("value"),
              let signature = StoreKey.bytes(fromHex: value) else { return false }
        return StoreKey.verify(signature: signature, message: signerMessage(session: session, signer: signer), publicKeyHex: storeKey)
    }
}

extension CatalogRow {
    /// A column's value as text, whatever its type (for messages, and for text columns that the
    /// verifiers compare): they read a catalog that an attacker may have written, and must not
    /// stop at a value of the wrong type.
    func shown(_ column: String) -> String {
        switch self[column] {
        case .null: return "NULL"
        case .blob(let bytes): return String(validating: bytes, as: UTF8.self) ?? "\(bytes.count) bytes"
        default: return optionalText(column) ?? ""
        }
    }
}
