import Foundation
import StasisCatalog
import StasisJSON
import StasisStore

extension SessionStore {
    /// Creates a checkpoint of a session from files: captures the images (incrementally against
    /// the parent checkpoint's images of the same names), stores the blobs, then — in one
    /// transaction — writes the record bound to the current history position, its signature,
    /// its references, and a `checkpoint` event in the history.
    public func createCheckpoint(_ sessionIDOrPrefix: String, _ spec: CheckpointSpec,
                                 progress: any ProgressReporter = SilentProgress()) throws(HistoryError) -> Checkpoint {
        let session = try resolveSession(sessionIDOrPrefix)
        for name in spec.images.map(\.name) + spec.blobs.map(\.name) where !CheckpointRecord.isValidName(name) {
            throw .badArgument(field: "name '\(name)'", message: "names are lower-case letters, digits and :._- (64 at most), starting with a letter or digit")
        }
        let names = spec.images.map(\.name) + spec.blobs.map(\.name)
        if Set(names).count != names.count { throw .badArgument(field: "names", message: "each image and blob name may appear once") }
        guard !spec.images.isEmpty || !spec.blobs.isEmpty else {
            throw .badArgument(field: "checkpoint", message: "a checkpoint needs at least one image or blob (--memory, --disk, --state, …)")
        }
        let parent: Checkpoint?
        if spec.noParent {
            parent = nil
        } else if let p = spec.parent {
            let c = try checkpoint(p)
            parent = c
        } else {
            parent = try checkpoints(session).last
        }
        let key = try signingKey()
        // The record is RFC 8785 JSON: refuse what it cannot hold before anything is captured.
        do { _ = try JSONValue.object(spec.meta).jcsBytes() } catch {
            throw .badArgument(field: "meta", message: error.description)
        }

        // Capture everything first; if anything fails, drop what this call added.
        var captured: [String] = []
        var images: [String: String] = [:], blobs: [String: String] = [:]
        var readBytes: [String: Int64] = [:]
        do throws(HistoryError) {
            for image in spec.images {
                let parentImage = image.base ?? parent?.record.images[image.name]
                if image.dirty != nil && parentImage == nil {
                    throw .badArgument(field: "dirty file for '\(image.name)'", message: "an incremental image needs a parent checkpoint holding an image named '\(image.name)'")
                }
                let result = try HistoryError.wrap { () throws(StoreError) in
                    try store.capture(image.path, options: CaptureOptions(parent: parentImage, dirtyPath: image.dirty), progress: progress)
                }
                if !result.alreadyStored { captured.append(result.image.id) }
                readBytes[image.name] = result.readBytes
                images[image.name] = result.image.id
            }
            for blob in spec.blobs {
                if let known = blob.knownID, (try? store.catalog.hasBlob(known)) == true {
                    blobs[blob.name] = known
                    continue
                }
                let bytes: Data
                do { bytes = try Data(contentsOf: URL(fileURLWithPath: blob.path)) } catch {
                    throw .badArgument(field: blob.name, message: "cannot read '\(blob.path)': \(error.localizedDescription)")
                }
                blobs[blob.name] = try HistoryError.wrap { () throws(StoreError) in try store.putBlob([UInt8](bytes)).id }
            }
            return try write { db -> Checkpoint in
                let (size, chain) = try Self.lastPosition(db, session)
                let root = try TreeView(db, session: session, size: Int(size)).root
                let record = CheckpointRecord(
                    session: session, parent: parent?.id, createdAt: Self.nowNanoseconds(), historySize: size,
                    historyRoot: StoreKey.hex(root), historyChain: StoreKey.hex(chain), images: images, blobs: blobs,
                    labels: spec.labels, meta: spec.meta)
                let id = record.id
                let signature = try key.sign(CheckpointRecord.signedMessage(id: id))
                try db.execute("""
                    INSERT INTO checkpoints(id, session_id, parent_id, created_at, history_size, record, signature)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, id, session, parent?.id, Double(record.createdAt) / 1e9, size, record.canonicalBytes, signature)
                for (name, target) in images {
                    try db.execute("INSERT INTO checkpoint_refs(checkpoint_id, name, kind, target, owned) VALUES (?, ?, 'image', ?, 1)", id, name, target)
                }
                for (name, target) in blobs {
                    try db.execute("INSERT INTO checkpoint_refs(checkpoint_id, name, kind, target, owned) VALUES (?, ?, 'blob', ?, 1)", id, name, target)
                }
                _ = try Self.insertEvents(db, session: session, [PreparedEvent(kind: .checkpoint, time: record.createdAt, data: ["checkpoint": .string(id)])], key: key)
                return Checkpoint(id: id, record: record, signature: signature, imageReadBytes: readBytes)
            }
        } catch {
            for id in captured { _ = try? store.catalog.deleteImage(id) }
            throw error
        }
    }

    public func resolveCheckpoint(_ idOrPrefix: String) throws(HistoryError) -> String {
        try resolve(idOrPrefix, table: "checkpoints", kind: "checkpoint") { .checkpointNotFound($0) }
    }

    static func checkpoint(from row: CatalogRow) throws -> Checkpoint {
        let id = try row.text("id")
        guard let record = CheckpointRecord.decode(try row.blob("record")) else {
            throw HistoryError.badArgument(field: "checkpoint \(id)", message: "its stored record is damaged (not a canonical checkpoint record of version 1 or 2)")
        }
        return Checkpoint(id: id, record: record, signature: try row.blob("signature"), signerKey: row.optionalText("signer_key"))
    }

    public func checkpoint(_ idOrPrefix: String) throws(HistoryError) -> Checkpoint {
        let id = try resolveCheckpoint(idOrPrefix)
        return try read { db in
            guard let row = try db.queryOne("SELECT id, record, signature, signer_key FROM checkpoints WHERE id = ?", id) else {
                throw HistoryError.checkpointNotFound(idOrPrefix)
            }
            return try Self.checkpoint(from: row)
        }
    }

    /// A session's checkpoints, oldest first.
    public func checkpoints(_ sessionIDOrPrefix: String) throws(HistoryError) -> [Checkpoint] {
        let session = try resolveSession(sessionIDOrPrefix)
        return try read { db in
            try db.query("SELECT id, record, signature, signer_key FROM checkpoints WHERE session_id = ? ORDER BY history_size, created_at, id", session)
                .map(Self.checkpoint(from:))
        }
    }

    /// Removes a checkpoint. One that others build on is refused unless `cascade`, which removes
    /// its descendants first. Images and blobs it captured go with the last checkpoint holding
    /// them (their chunks at the next `gc`). The removal is noted in the session's history.
    @discardableResult
    public func removeCheckpoint(_ idOrPrefix: String, cascade: Bool = false) throws(HistoryError) -> [String] {
        let id = try resolveCheckpoint(idOrPrefix)
        let children = try read { db in try db.query("SELECT id FROM checkpoints WHERE parent_id = ? ORDER BY id", id).map { try $0.text("id") } }
        var removed: [String] = []
        let key = try signingKey()
        if !children.isEmpty {
            guard cascade else { throw .hasDescendants(checkpoint: id, children: children) }
            for child in children { removed += try removeCheckpoint(child, cascade: true) }
        }
        try write { db in
            guard let session = try db.queryOne("SELECT session_id FROM checkpoints WHERE id = ?", id)?.text("session_id") else { return }
            let refs = try db.query("SELECT kind, target, owned FROM checkpoint_refs WHERE checkpoint_id = ?", id)
            try db.execute("DELETE FROM checkpoint_refs WHERE checkpoint_id = ?", id)
            try db.execute("DELETE FROM checkpoints WHERE id = ?", id)
            try Self.removeAccessOrders(db, checkpoint: id)
            for ref in refs {
                guard try ref.int("owned") == 1 else { continue }
                let target = try ref.text("target")
                let stillHeld = try db.queryOne("SELECT target FROM checkpoint_refs WHERE target = ? LIMIT 1", target) != nil
                if stillHeld { continue }
                let table = try ref.text("kind") == "image" ? "images" : "blobs"
                try db.execute("DELETE FROM \(table) WHERE id = ?", target)
            }
            _ = try Self.insertEvents(db, session: session, [PreparedEvent(kind: .note, time: Self.nowNanoseconds(),
                                                                           data: ["text": .string("checkpoint \(id) removed"), "removed_checkpoint": .string(id)])], key: key)
        }
        return removed + [id]
    }
}
