import Foundation
import Testing
import StasisCatalog
@testable import StasisStore
import StasisStoreTestSupport

/// Invariants checked (the catalog is edited with raw SQL, as an attacker would):
/// - a flipped byte in a blob manifest's chunk list is found by `verify` (the chunk it now names
///   is in no pack) and named with the blob it affects; a manifest whose chunk list still names
///   stored chunks, but other ones, is found by `verify(deep:)` (the chunks do not add up to
///   the blob id); a manifest that disagrees with its row's size is named too;
/// - an image row whose size or counts disagree with its manifest is named;
/// - verify changes nothing;
/// - a new store is private: directories 0700, catalog, lock and key 0600.
@Suite("Verify: what the catalog claims")
struct CatalogTamperTests {
    func tamper(_ store: ContentStore, _ sql: String, _ arguments: any CatalogBindable...) throws {
        try store.catalog.database.write { db in try db.execute(sql, arguments.map(\.catalogValue)) }
    }

    /// Every row of the store's tables, for "changed nothing" (on either engine).
    func catalogRows(_ store: ContentStore) throws -> [[CatalogValue]] {
        try store.catalog.database.read { db in
            var rows: [[CatalogValue]] = []
            for table in ["store_meta ORDER BY key", "packs ORDER BY id", "images ORDER BY id", "blobs ORDER BY id"] {
                rows += try db.query("SELECT * FROM \(table)", []).map(\.values)
            }
            return rows
        }
    }

    @Test("a flipped byte in a blob manifest is named, and verify changes nothing")
    func blobManifest() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("s"))
        var gen = TestImage(seed: 7)
        let a = try store.putBlob(gen.bytes(pages: 40))
        let b = try store.putBlob(gen.bytes(pages: 40))
        #expect(try store.verify(deep: true).ok)

        // Byte 40 is inside the first entry's chunk id (header 24 bytes, then u32 length).
        let original = try #require(try store.catalog.blobManifestBytes(a.id))
        var manifest = original
        manifest[40] ^= 0x01
        try tamper(store, "UPDATE blobs SET manifest = ? WHERE id = ?", manifest, a.id)
        let before = try catalogRows(store)
        let report = try store.verify()
        #expect(!report.ok)
        let problem = try #require(report.problems.first { $0.kind == "missing-chunk" })
        #expect(problem.affectedBlobs == [a.id])
        #expect(try catalogRows(store) == before)
        #expect(throws: StoreError.self) { _ = try store.blob(a.id) }

        // B's manifest now lists A's chunks: every chunk is there, only the deep check sees it.
        let other = try #require(try store.catalog.blobManifestBytes(b.id))
        try tamper(store, "UPDATE blobs SET manifest = ? WHERE id = ?", original, b.id)
        try tamper(store, "UPDATE blobs SET manifest = ? WHERE id = ?", other, a.id)
        #expect(try store.verify().ok)
        let deep = try store.verify(deep: true)
        #expect(deep.problems.map(\.kind) == ["corrupt-blob", "corrupt-blob"] && Set(deep.problems.map(\.subject)) == [a.id, b.id])

        try tamper(store, "UPDATE blobs SET size = size + 1 WHERE id = ?", b.id)
        #expect(try store.verify().problems.contains { $0.kind == "corrupt-blob-manifest" && $0.subject == b.id && $0.affectedBlobs == [b.id] })
    }

    @Test("an image row that disagrees with its manifest is named")
    func imageRow() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("s"))
        var gen = TestImage(seed: 8)
        let path = dir.file("img")
        FileManager.default.createFile(atPath: path, contents: Data(gen.bytes(pages: 16)))
        let image = try store.capture(path).image
        #expect(try store.verify().ok)
        try tamper(store, "UPDATE images SET size = size * 2 WHERE id = ?", image.id)
        let report = try store.verify()
        #expect(report.problems.map(\.kind) == ["image-mismatch"] && report.problems[0].subject == image.id)
    }

    @Test("a new store is private, whatever the umask")
    func privateStore() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("s"))
        func mode(_ path: String) throws -> Int {
            ((try FileManager.default.attributesOfItem(atPath: path))[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        let l = store.layout
        for d in [l.root, l.packsDirectory, l.manifestsDirectory, l.temporaryDirectory, l.keysDirectory] { #expect(try mode(d) == 0o700, "\(d)") }
        let catalogFile = TestStores.engine == .sqlite ? l.catalogPath : l.descriptorPath
        for f in [catalogFile, l.lockPath, l.keyPath] { #expect(try mode(f) == 0o600, "\(f)") }
    }
}
