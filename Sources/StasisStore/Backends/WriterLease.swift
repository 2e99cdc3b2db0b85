import Foundation
import StasisCatalog

/// A fleet writer's lease (Formats/fleet.md): a capture, blob put or gc on one host, registered in
/// the shared catalog before it reads the chunk index and ended by the commit that publishes its
/// work. Garbage collection on any host waits for every writer that started before it condemned
/// a pack, and deletes no object a live writer has uploaded.
package struct WriterLease: Sendable {
    let id: String
    /// The gc epoch when the writer started: packs condemned in a later epoch were never in its
    /// chunk index.
    let epoch: Int64

    /// How long a lease lives without its writer committing: a host that died stops holding up
    /// gc after this long. A writer whose lease expired cannot commit (it starts again).
    static let duration: TimeInterval = 3600

    static var hostName: String { ProcessInfo.processInfo.hostName + "/" + String(getpid()) }
}

extension Catalog {
    /// Registers a writer (committed at once, so that a gc on another host sees it).
    func beginWriter(kind: String) throws(StoreError) -> WriterLease {
        let id = UUID().uuidString.lowercased()
        return try write { db in
            let epoch = try Self.gcEpoch(db)
            let now = Date().timeIntervalSince1970
            try db.execute("INSERT INTO writer_leases(id, host, kind, started_epoch, started_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                           id, WriterLease.hostName, kind, epoch, now, now + WriterLease.duration)
            return WriterLease(id: id, epoch: epoch)
        }
    }

    /// Records objects a writer is about to upload, before it uploads them: gc's sweep of objects
    /// that no row names leaves these alone while the lease lives.
    func registerUploads(_ keys: [String], lease: WriterLease) throws(StoreError) {
        guard !keys.isEmpty else { return }
        try write { db in
            try Self.requireLease(lease, db)
            for key in keys {
                try db.execute("INSERT INTO writer_uploads(lease_id, object_key) VALUES (?, ?) ON CONFLICT (lease_id, object_key) DO NOTHING", lease.id, key)
            }
        }
    }

    /// Ends a lease inside the commit that publishes the writer's work; a lease that expired (and
    /// so may have been swept) fails the commit.
    static func endWriter(_ lease: WriterLease, _ db: any CatalogConnection) throws {
        try requireLease(lease, db)
        try db.execute("DELETE FROM writer_uploads WHERE lease_id = ?", lease.id)
        try db.execute("DELETE FROM writer_leases WHERE id = ?", lease.id)
    }

    /// Drops a lease whose writer gave up (best effort: an expired lease is swept anyway).
    func abandonWriter(_ lease: WriterLease) {
        _ = try? write { db in
            try db.execute("DELETE FROM writer_uploads WHERE lease_id = ?", lease.id)
            try db.execute("DELETE FROM writer_leases WHERE id = ?", lease.id)
        }
    }

    private static func requireLease(_ lease: WriterLease, _ db: any CatalogConnection) throws {
        let row = try db.queryOne("SELECT expires_at FROM writer_leases WHERE id = ?", lease.id)
        guard let row, try row.double("expires_at") > Date().timeIntervalSince1970 else {
            throw StoreError.leaseLost(lease: lease.id)
        }
    }

    static func gcEpoch(_ db: any CatalogConnection) throws -> Int64 {
        guard let text = try db.queryOne("SELECT value FROM store_meta WHERE key = 'gc_epoch'", [])?.optionalText("value"),
              let epoch = Int64(text) else {
            throw StoreError.catalog(path: "store_meta", message: "gc_epoch is missing or not a number; the catalog is damaged")
        }
        return epoch
    }

    /// Packs a gc has condemned: writers leave them out of the index they dedup against.
    func condemnedPacks() throws(StoreError) -> Set<String> {
        try read { db in
            Set(try db.query("SELECT pack_id FROM condemned_packs", []).map { (row) throws(CatalogError) in try row.text("pack_id") })
        }
    }
}
