import Foundation
import Testing
import StasisIO
@testable import StasisStore
import StasisStoreTestSupport

/// Invariants checked:
/// - `open` refuses a missing store, and a store whose format version or migrations are newer
///   than this code, without changing it;
/// - `create` refuses an existing store and bad chunk sizes;
/// - bad capture arguments (missing file, directory, --dirty without --parent or of the wrong
///   size, unknown parent) are refused with an error naming the file or id, and add nothing.
@Suite("Store lifecycle and bad arguments")
struct StoreLifecycleTests {
    @Test("missing, existing and newer stores")
    func openAndCreate() throws {
        let dir = TemporaryDirectory()
        #expect(throws: StoreError.self) { _ = try ContentStore.open(at: dir.file("nothing")) }
        _ = try TestStores.create(at: dir.file("s"))
        #expect(throws: StoreError.self) { _ = try TestStores.create(at: dir.file("s")) }
        #expect(throws: StoreError.self) { _ = try TestStores.create(at: dir.file("t"), chunkSize: 3000) }
        #expect(throws: StoreError.self) { _ = try TestStores.create(at: dir.file("u"), chunkSize: 4 << 20) }

        let store = try ContentStore.open(at: dir.file("s"))
        try store.catalog.write { db in try db.execute("UPDATE store_meta SET value = '99' WHERE key = 'format_version'", []) }
        #expect {
            _ = try ContentStore.open(at: dir.file("s"))
        } throws: { error in
            guard case StoreError.newerFormat(_, let found, let supported) = error else { return false }
            return found == 99 && supported == Catalog.formatVersion && "\(error)".contains("upgrade stasis")
        }
        try store.catalog.write { db in
            try db.execute("UPDATE store_meta SET value = '1' WHERE key = 'format_version'", [])
            let migrations = db.engine == .sqlite ? "grdb_migrations" : "stasis_migrations"
            try db.execute("INSERT INTO \(migrations)(identifier) VALUES ('v9-from-the-future')", [])
        }
        #expect {
            _ = try ContentStore.open(at: dir.file("s"))
        } throws: { error in
            if case StoreError.unknownMigrations(_, let names) = error { return names == ["v9-from-the-future"] }
            return false
        }
    }

    @Test("bad capture arguments change nothing")
    func badCaptureArguments() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("s"))
        var gen = TestImage(seed: 1)
        TestFiles.write(gen.bytes(pages: 8), to: dir.file("img"))
        TestFiles.write(gen.bytes(pages: 9), to: dir.file("other-size"))
        let parent = try store.capture(dir.file("img")).image.id

        func expectError(_ text: String, _ body: () throws -> Void) {
            #expect { try body() } throws: { "\($0)".contains(text) }
        }
        expectError("missing") { _ = try store.capture(dir.file("missing")) }
        expectError("not a regular file") { _ = try store.capture(dir.path) }
        expectError("--parent") { _ = try store.capture(dir.file("img"), options: CaptureOptions(dirtyPath: dir.file("img"))) }
        expectError("other-size") { _ = try store.capture(dir.file("img"), options: CaptureOptions(parent: parent, dirtyPath: dir.file("other-size"))) }
        expectError("other-size") { _ = try store.capture(dir.file("other-size"), options: CaptureOptions(parent: parent, dirtyPath: dir.file("img"))) }
        expectError("no image 'abcdef'") { _ = try store.capture(dir.file("img"), options: CaptureOptions(parent: "abcdef")) }
        expectError("not an image id") { _ = try store.capture(dir.file("img"), options: CaptureOptions(parent: "xyz!")) }
        expectError("already exists") { _ = try store.materialize(parent, to: dir.file("img")) }
        // An unreadable file (root reads everything, so the errno is forced through the seam).
        FaultInjection.install([FaultInjection.Rule(call: .open, errno: .permissionDenied, pathPrefix: dir.file("img"))])
        expectError("permissions") { _ = try store.capture(dir.file("img")) }
        FaultInjection.remove(pathPrefix: dir.file("img"))
        #expect(try store.catalog.images().count == 1)
        #expect(try store.verify(deep: true).ok)
        #expect(try store.verify().leftoverFiles == 0)
    }
}
