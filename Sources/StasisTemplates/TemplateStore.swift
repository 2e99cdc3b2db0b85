import Foundation
import StasisCatalog
import StasisStore

/// Templates: named root filesystems that sandboxes start from, each an ext4 image in the content
/// store (so templates that share files share chunks) and a row in the catalog. The CLI and the
/// sandbox lifecycle go through this type.
public final class TemplateStore: Sendable {
    public let store: ContentStore
    /// Where `debootstrap` trees are kept between builds (keyed by suite and packages).
    public let cacheDirectory: String

    public init(store: ContentStore, cacheDirectory: String = "/var/cache/stasis/templates") {
        self.store = store
        self.cacheDirectory = cacheDirectory
    }

    private static let columns = "name, image_id, source, config, size, data_bytes, warm_checkpoint, created_at"

    func read<T>(_ body: (any CatalogConnection) throws -> T) throws(TemplateError) -> T {
        try ensureSchema()
        do { return try store.catalog.database.read(body) } catch { throw Self.map(error, store) }
    }

    func write<T>(_ body: (any CatalogConnection) throws -> T) throws(TemplateError) -> T {
        try ensureSchema()
        do { return try store.catalog.database.write(body) } catch { throw Self.map(error, store) }
    }

    /// The layer owns its table: created (or a newer catalog refused) on first use.
    func ensureSchema() throws(TemplateError) {
        do { try CatalogMigrator.migrate(store.catalog.database, TemplateSchema.schema) } catch { throw Self.map(error, store) }
    }

    static func map(_ error: any Error, _ store: ContentStore) -> TemplateError {
        switch error {
        case let e as TemplateError: return e
        case let e as StoreError: return .store(e)
        case CatalogError.newerSchema(_, _, let unknown): return .store(.unknownMigrations(path: store.layout.root, names: unknown))
        case let e as CatalogError: return .store(.database(e))
        default: return .store(.catalog(path: store.catalog.location, message: "\(error)"))
        }
    }

    private static func record(_ row: CatalogRow) throws -> TemplateRecord {
        let config = try JSONDecoder().decode(TemplateConfig.self, from: Data(try row.text("config").utf8))
        return TemplateRecord(name: try row.text("name"), imageID: try row.text("image_id"), source: try row.text("source"),
                              config: config, size: try row.int("size"), dataBytes: try row.int("data_bytes"),
                              warmCheckpoint: row.optionalText("warm_checkpoint"),
                              createdAt: Date(timeIntervalSince1970: try row.double("created_at")))
    }

    public func list() throws(TemplateError) -> [TemplateRecord] {
        try read { db in try db.query("SELECT \(Self.columns) FROM templates ORDER BY name", []).map(Self.record) }
    }

    public func template(_ name: String) throws(TemplateError) -> TemplateRecord {
        try TemplateRecord.validate(name: name)
        let found = try read { db in try db.queryOne("SELECT \(Self.columns) FROM templates WHERE name = ?", name).map(Self.record) }
        guard let found else { throw .notFound(name: name) }
        return found
    }

    func insert(_ r: TemplateRecord) throws(TemplateError) {
        let config = String(decoding: (try? JSONEncoder().encode(r.config)) ?? Data(), as: UTF8.self)
        try write { db in
            if try db.queryOne("SELECT name FROM templates WHERE name = ?", r.name) != nil { throw TemplateError.exists(name: r.name) }
            try db.execute("INSERT INTO templates(\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           r.name, r.imageID, r.source, config, r.size, r.dataBytes, r.warmCheckpoint, r.createdAt.timeIntervalSince1970)
        }
    }

    /// Records (or clears) the checkpoint of the template's first boot.
    public func setWarmCheckpoint(_ name: String, _ checkpoint: String?) throws(TemplateError) {
        let changed = try write { db in try db.execute("UPDATE templates SET warm_checkpoint = ? WHERE name = ?", checkpoint, name) }
        if changed == 0 { throw .notFound(name: name) }
    }

    /// Removes a template. Its image goes too unless another template or a checkpoint holds it
    /// (sandboxes made from it keep working: their checkpoints name their own disks); the
    /// chunks are freed by `stasis gc`.
    @discardableResult
    public func remove(_ name: String) throws(TemplateError) -> TemplateRecord {
        let r = try template(name)
        let othersUsingImage = try write { db -> Int64 in
            try db.execute("DELETE FROM templates WHERE name = ?", name)
            return try db.queryOne("SELECT count(*) AS n FROM templates WHERE image_id = ?", r.imageID)?.int("n") ?? 0
        }
        if othersUsingImage == 0 {
            do { _ = try store.removeImage(r.imageID) } catch {
                if case .heldByCheckpoint = error {} else if case .imageNotFound = error {} else { throw .store(error) }
            }
        }
        return r
    }
}
