import GRDB
import StasisCatalog

// Transitional (removed when the sessions and graph layers are ported): GRDB handles for code
// that still writes GRDB calls. SQLite only.
extension Catalog {
    package func readThrough<T>(_ body: (Database) throws -> T) throws -> T {
        guard let sqlite = database as? SQLiteCatalog else { throw StoreError.catalog(path: location, message: "not ported to PostgreSQL") }
        return try sqlite.pool.read(body)
    }

    package func writeThrough<T>(_ body: (Database) throws -> T) throws -> T {
        guard let sqlite = database as? SQLiteCatalog else { throw StoreError.catalog(path: location, message: "not ported to PostgreSQL") }
        return try sqlite.pool.write(body)
    }

    package static func insert(packs: [PackRow], images: [ImageRecord], blobs: [(id: String, size: Int64, manifest: [UInt8])], _ db: Database) throws {
        try insert(packs: packs, images: images, blobs: blobs, SQLiteConnection(db: db, location: "catalog"))
    }
}
