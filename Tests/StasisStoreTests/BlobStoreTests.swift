import Foundation
import Testing
@testable import StasisStore
import StasisStoreTestSupport

/// Invariants checked: blobs round-trip bit-exact; a stream that grows by appending, or changes
/// in the middle, stores only about the changed bytes (FastCDC); unknown ids are refused;
/// gc keeps referenced blob chunks and frees removed ones.
@Suite("Blobs (content-defined chunking)")
struct BlobStoreTests {
    @Test("round trip, sharing across versions, removal")
    func blobs() throws {
        let dir = TemporaryDirectory()
        let store = try TestStores.create(at: dir.file("s"))
        var gen = TestImage(seed: 41)
        var log = gen.bytes(pages: 100)
        let v1 = try store.putBlob(log)
        #expect(try store.blob(v1.id) == log)
        let storedV1 = try store.stats().storedChunkBytes

        log.append(contentsOf: gen.bytes(pages: 1))      // grows by 4 KiB
        log.insert(contentsOf: Array("inserted in the middle".utf8), at: 200_000)
        let v2 = try store.putBlob(log)
        #expect(try store.blob(v2.id) == log)
        let added = try store.stats().storedChunkBytes - storedV1
        #expect(added < 80_000)       // a few chunks, not another 400 KiB

        #expect(throws: StoreError.self) { _ = try store.blob(String(repeating: "0", count: 64)) }
        try store.removeBlob(v1.id)
        _ = try store.gc()
        #expect(try store.blob(v2.id) == log)
        #expect(try store.verify(deep: true).ok)
        #expect(try store.putBlob([]).size == 0)
    }
}
