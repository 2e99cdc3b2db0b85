import Foundation
import StasisCatalog
import StasisStore

/// Recorded memory access orders of checkpoints (`MemoryAccessOrder`): one per checkpoint and
/// memory image, written once by the first lazy restore that records one, read by later ones.
extension SessionStore {
    /// What the catalog says about a checkpoint's recorded order, without reading the blob.
    public struct AccessOrderRow: Sendable, Equatable {
        public var checkpoint: String
        public var image: String
        public var blob: String
        public var chunks: Int
    }

    /// The row of `checkpoint`'s order for `image`, if one was recorded.
    public func accessOrderRow(checkpoint: String, image: String) throws(HistoryError) -> AccessOrderRow? {
        try read { db in
            guard let row = try db.queryOne("SELECT blob_id, chunks FROM memory_access_orders WHERE checkpoint_id = ? AND image_id = ?",
                                            checkpoint, image) else { return nil }
            return AccessOrderRow(checkpoint: checkpoint, image: image, blob: try row.text("blob_id"), chunks: Int(try row.int("chunks")))
        }
    }

    /// Stores `order` as a blob and names it from `checkpoint`'s row, unless the checkpoint
    /// already has an order for that image (the first recorded stays). Returns the row that
    /// holds now. The checkpoint must exist and hold `order.image`.
    @discardableResult
    public func recordAccessOrder(checkpoint: String, _ order: MemoryAccessOrder) throws(HistoryError) -> AccessOrderRow {
        let c = try self.checkpoint(checkpoint)
        guard c.record.images.values.contains(order.image) else {
            throw .badArgument(field: "memory access order", message: "checkpoint \(c.id) holds no image \(order.image)")
        }
        if let existing = try accessOrderRow(checkpoint: c.id, image: order.image) { return existing }
        let blob = try HistoryError.wrap { () throws(StoreError) in try store.putBlob(order.encoded()).id }
        return try write { db in
            if let row = try db.queryOne("SELECT blob_id, chunks FROM memory_access_orders WHERE checkpoint_id = ? AND image_id = ?", c.id, order.image) {
                return AccessOrderRow(checkpoint: c.id, image: order.image, blob: try row.text("blob_id"), chunks: Int(try row.int("chunks")))
            }
            try db.execute("INSERT INTO memory_access_orders(checkpoint_id, image_id, blob_id, chunks, recorded_at) VALUES (?, ?, ?, ?, ?)",
                           c.id, order.image, blob, order.chunks.count, Date().timeIntervalSince1970)
            return AccessOrderRow(checkpoint: c.id, image: order.image, blob: blob, chunks: order.chunks.count)
        }
    }

    /// The recorded order of `checkpoint` for `image` (`chunkSize`, `chunkCount` chunks), read
    /// and verified: the blob's bytes hash to its id, it is an order of this image, and its
    /// length is the row's. Nil when none was recorded; throws when one is recorded but wrong
    /// (a restore then goes on without it).
    public func accessOrder(checkpoint: String, image: String, chunkSize: Int, chunkCount: Int) throws(HistoryError) -> MemoryAccessOrder? {
        guard let row = try accessOrderRow(checkpoint: checkpoint, image: image) else { return nil }
        let bytes = try HistoryError.wrap { () throws(StoreError) in try store.blob(row.blob) }
        let order: MemoryAccessOrder
        do { order = try MemoryAccessOrder.decode(bytes, image: image, chunkSize: chunkSize, chunkCount: chunkCount) } catch {
            throw .badArgument(field: "memory access order \(row.blob) of checkpoint \(checkpoint)", message: error.description)
        }
        guard order.chunks.count == row.chunks else {
            throw .badArgument(field: "memory access order \(row.blob) of checkpoint \(checkpoint)",
                               message: "it holds \(order.chunks.count) chunks; its catalog row says \(row.chunks)")
        }
        return order
    }

    /// Removes `checkpoint`'s orders inside a removal's transaction; blobs no other row or
    /// checkpoint names go with them.
    static func removeAccessOrders(_ db: any CatalogConnection, checkpoint: String) throws {
        guard try CatalogMigrator.tableExists("memory_access_orders", db) else { return }
        let blobs = try db.query("SELECT blob_id FROM memory_access_orders WHERE checkpoint_id = ?", checkpoint).map { try $0.text("blob_id") }
        try db.execute("DELETE FROM memory_access_orders WHERE checkpoint_id = ?", checkpoint)
        for blob in blobs {
            if try db.queryOne("SELECT blob_id FROM memory_access_orders WHERE blob_id = ? LIMIT 1", blob) != nil { continue }
            if try db.queryOne("SELECT target FROM checkpoint_refs WHERE target = ? LIMIT 1", blob) != nil { continue }
            try db.execute("DELETE FROM blobs WHERE id = ?", blob)
        }
    }
}
