import Foundation
import StasisCatalog
import StasisIO
import StasisObjectStorage

extension ContentStore {
    /// gc on a fleet store, with no lock shared between hosts (Formats/fleet.md):
    ///
    /// 1. condemn: packs with nothing live (and mostly-dead ones, after their live chunks are
    ///    copied into new packs) are marked condemned in a new gc epoch, in one commit. Writers
    ///    that start from then on leave condemned packs out of the index they dedup against;
    /// 2. sweep: a condemned pack goes — its row in one commit, then its object — once no live
    ///    writer started before its epoch, and only if every chunk of it that something
    ///    references is in a pack that stays (else it is kept: an older writer used it);
    /// 3. orphans: objects that no catalog row and no live writer's registered upload names are
    ///    deleted (listed first, then checked against the catalog, so that an upload the listing
    ///    saw was registered before the check).
    func fleetGC(objects: SharedObjects, dryRun: Bool, repackBelow: Double, progress: any ProgressReporter) throws(StoreError) -> GCReport {
        try withLock(.exclusive) { () throws(StoreError) -> GCReport in
            let lease = try catalog.beginWriter(kind: "gc")
            defer { catalog.abandonWriter(lease) }
            var report = try condemn(objects: objects, lease: lease, dryRun: dryRun, repackBelow: repackBelow, progress: progress)
            if dryRun { return report }
            try sweepCondemned(objects: objects, gcLease: lease, into: &report)
            try sweepOrphans(objects: objects, into: &report)
            report.leftoverFilesRemoved = try removeCacheLeftovers()
            return report
        }
    }

    private func condemn(objects: SharedObjects, lease: WriterLease, dryRun: Bool, repackBelow: Double,
                         progress: any ProgressReporter) throws(StoreError) -> GCReport {
        let live = try referencedChunks()
        let condemned = try catalog.condemnedPacks()
        let packs = try packIndexes().filter { !condemned.contains($0.packID) }
        let sizes = Dictionary(uniqueKeysWithValues: try catalog.packs().map { ($0.id, $0.size) })
        var report = GCReport(dryRun: dryRun, referencedChunks: live.count)
        let (toDelete, toRepack) = Self.classify(packs, live: live, repackBelow: repackBelow)
        report.packsDeleted = toDelete.map(\.packID)
        report.packsRepacked = toRepack.map(\.packID)
        for pack in toDelete + toRepack {
            report.bytesFreed += sizes[pack.packID] ?? 0
            report.chunksRemoved += pack.entries.filter { !live.contains($0.id) }.count
        }
        if dryRun || toDelete.isEmpty && toRepack.isEmpty { return report }

        let written = try repack(toRepack, from: packs, live: live, progress: progress)
        try publish(packs: written, manifest: nil, lease: lease)
        report.packsWritten = written.map(\.packID)
        for pack in written { report.bytesFreed -= pack.size }
        CrashPoint.hit("gc.before-condemn")
        try catalog.write { db in
            let epoch = try Catalog.gcEpoch(db) + 1
            try db.execute("UPDATE store_meta SET value = ? WHERE key = 'gc_epoch'", String(epoch))
            try Catalog.insertPacks(written, db)
            for pack in toDelete + toRepack {
                try db.execute("INSERT INTO condemned_packs(pack_id, epoch) VALUES (?, ?) ON CONFLICT (pack_id) DO NOTHING", pack.packID, epoch)
            }
            try db.execute("DELETE FROM writer_uploads WHERE lease_id = ?", lease.id)
        }
        return report
    }

    /// Deletes condemned packs that no writer can still need; keeps (un-condemns) those an older
    /// writer committed a reference into.
    private func sweepCondemned(objects: SharedObjects, gcLease: WriterLease, into report: inout GCReport) throws(StoreError) {
        CrashPoint.hit("gc.before-commit")
        let deleted: [String] = try catalog.write { db in
            let now = Date().timeIntervalSince1970
            // Leases of writers that died: their uploads become orphans, swept below.
            try db.execute("DELETE FROM writer_uploads WHERE lease_id IN (SELECT id FROM writer_leases WHERE expires_at <= ?)", now)
            try db.execute("DELETE FROM writer_leases WHERE expires_at <= ?", now)
            let oldest = try db.queryOne("SELECT min(started_epoch) AS oldest FROM writer_leases WHERE id <> ?", gcLease.id)?.optionalInt("oldest")
            var ready: [String] = []
            var waiting: [String] = []
            for row in try db.query("SELECT pack_id, epoch FROM condemned_packs ORDER BY pack_id", []) {
                let id = try row.text("pack_id")
                if let oldest, oldest < (try row.int("epoch")) { waiting.append(id) } else { ready.append(id) }
            }
            report.packsWaiting = waiting
            guard !ready.isEmpty else { return [] }
            // The write lock is held: no writer commits until this transaction ends, so what is
            // referenced now is what will have been referenced when the rows go.
            let live = try referencedChunks()
            let readySet = Set(ready)
            var kept = Set<ChunkID>()
            for pack in try packIndexes() where !readySet.contains(pack.packID) {
                for entry in pack.entries { kept.insert(entry.id) }
            }
            var deletable: [String] = []
            for pack in try packIndexes() where readySet.contains(pack.packID) {
                if pack.entries.allSatisfy({ !live.contains($0.id) || kept.contains($0.id) }) {
                    deletable.append(pack.packID)
                    try db.execute("DELETE FROM packs WHERE id = ?", pack.packID)
                }
                try db.execute("DELETE FROM condemned_packs WHERE pack_id = ?", pack.packID)
            }
            return deletable
        }
        CrashPoint.hit("gc.after-commit")
        // Unnamed now: deleting them can only fail to free space, never lose data.
        let storage = objects.storage
        try? BlockingAsync.run { () async throws(StoreError) in
            try await SharedObjects.forEach(deleted, limit: SharedObjects.parallelTransfers) { (id) async throws(StoreError) in
                do throws(ObjectStorageError) { try await storage.delete(.pack(id: id)) } catch { throw .objects(error) }
            }
        }
        for id in deleted {
            try? FileSystem.remove(layout.packPath(for: id))
            CrashPoint.hit("gc.pack-deleted")
        }
        report.packsDeleted = deleted
    }

    /// Deletes objects under `packs/` and `manifests/` that nothing names: what writers that died
    /// after uploading, and gc runs that died after committing, left behind.
    private func sweepOrphans(objects: SharedObjects, into report: inout GCReport) throws(StoreError) {
        let storage = objects.storage
        // List first (see the type's comment on the order).
        let listed: [ObjectInfo] = try BlockingAsync.run { () async throws(StoreError) in
            do throws(ObjectStorageError) {
                return try await storage.list(prefix: "packs/") + storage.list(prefix: "manifests/")
            } catch { throw .objects(error) }
        }
        let (packs, images, registered) = try catalog.read { db in
            (Set(try db.query("SELECT id FROM packs", []).map { (r) throws(CatalogError) in try r.text("id") }),
             Set(try db.query("SELECT id FROM images", []).map { (r) throws(CatalogError) in try r.text("id") }),
             Set(try db.query("SELECT object_key FROM writer_uploads", []).map { (r) throws(CatalogError) in try r.text("object_key") }))
        }
        let orphans = listed.filter { info in
            guard let id = info.key.layoutID, !registered.contains(info.key.rawValue) else { return false }
            return info.key.rawValue.hasPrefix("packs/") ? !packs.contains(id) : !images.contains(id)
        }
        let keys = orphans.map(\.key)
        try? BlockingAsync.run { () async throws(StoreError) in
            try await SharedObjects.forEach(keys.map(\.rawValue), limit: SharedObjects.parallelTransfers) { (raw) async throws(StoreError) in
                do throws(ObjectStorageError) { try await storage.delete(try ObjectKey(raw)) } catch { throw .objects(error) }
            }
        }
        report.objectsRemoved = keys.map(\.rawValue)
        report.bytesFreed += orphans.reduce(0) { $0 + $1.size }
    }

    /// This host's cache files that no catalog row names, and its temporary files (under the
    /// exclusive lock, no local writer is running).
    private func removeCacheLeftovers() throws(StoreError) -> [String] {
        let leftovers = try leftoverFiles(known: Set(try catalog.packs().map(\.id)))
        for path in leftovers { try? FileSystem.remove(path) }
        return leftovers
    }
}
