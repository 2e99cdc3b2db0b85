import Foundation
import Testing
import StasisJSON
import StasisStore
@testable import StasisSessions

/// Invariants checked:
/// - export → verify (offline) → import into another store round-trips the session: history
///   verifies there (signed by the exporting store's key), images materialize bit-exact, blobs
///   and large event payloads come back;
/// - a truncated bundle (every length tried on a small one), a flipped byte anywhere, a bundle
///   re-signed by another key (with --key pinning), an entry whose name could escape, and an
///   import over an existing session are all refused — and a refused import leaves the target
///   store exactly as it was.
@Suite("Bundles", .serialized)
struct BundleTests {
    func makeSession(_ t: TemporaryStore) throws -> (String, [UInt8], Checkpoint) {
        let s = try t.sessions.createSession(labels: ["task": "bundle"]).id
        var rng = Rng(state: 77)
        try t.sessions.append(s, randomEvents(300, &rng))
        try t.sessions.append(s, [EventInput(kind: .output, data: ["stream": "stdout", "data": .string(String(repeating: "z", count: 9000))])])
        let memory = rng.bytes(96 * 1024) + [UInt8](repeating: 0, count: 32 * 1024)
        let c = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: t.write(memory, "mem"))],
                                                                 blobs: [.init(name: "config", path: t.write(Array("{\"vcpus\":1}".utf8), "cfg"))]))
        try t.sessions.append(s, randomEvents(5, &rng))
        return (s, memory, c)
    }

    @Test("export, verify offline, import elsewhere")
    func roundTrip() throws {
        let a = try TemporaryStore(), b = try TemporaryStore()
        let (s, memory, c) = try makeSession(a)
        let file = a.file("s.bundle")
        let exported = try a.sessions.exportBundle(s, to: file)
        #expect(exported.events == 307 && exported.checkpoints == [c.id])
        let report = try SessionStore.verifyBundle(at: file)
        #expect(report.session == s && report.events == 307)
        let key = try #require(try a.sessions.store.catalog.meta("public_key"))
        #expect(try SessionStore.verifyBundle(at: file, expectedKey: key).signers == [key])

        _ = try b.sessions.importBundle(at: file, expectedKey: key)
        #expect(try b.sessions.verifyHistory(s).ok)
        #expect(try b.sessions.events(s).count == 307)
        let imported = try b.sessions.checkpoint(c.id)
        #expect(imported.record == c.record && imported.signerKey == key)
        _ = try b.sessions.store.materialize(imported.record.images["memory"]!, to: b.file("mem-out"))
        #expect([UInt8](FileManager.default.contents(atPath: b.file("mem-out"))!) == memory)
        #expect(try b.sessions.store.blob(imported.record.blobs["config"]!) == Array("{\"vcpus\":1}".utf8))
        let big = try #require(try b.sessions.events(s, EventQuery(kinds: [.output])).first { $0.data["data"]?["$blob"] != nil })
        #expect(try b.sessions.resolvedString(big.data["data"]!)?.count == 9000)
        #expect(try b.sessions.store.verify(deep: true).ok)
        #expect(try b.sessions.prove(s, seq: 10).verified)
        // Importing again is refused; nothing changes.
        #expect(throws: HistoryError.self) { _ = try b.sessions.importBundle(at: file) }
    }

    @Test("truncated, damaged, re-signed and escaping bundles are refused; the store is unchanged")
    func refused() throws {
        let a = try TemporaryStore(), b = try TemporaryStore()
        let (s, _, _) = try makeSession(a)
        let file = a.file("s.bundle")
        _ = try a.sessions.exportBundle(s, to: file)
        let bytes = [UInt8](FileManager.default.contents(atPath: file)!)
        let key = try a.sessions.store.catalog.meta("public_key")!

        func refusedImport(_ data: [UInt8], _ label: String, key: String? = nil) {
            let path = a.file("bad.bundle")
            FileManager.default.createFile(atPath: path, contents: Data(data))
            #expect(throws: HistoryError.self, "\(label)") { _ = try SessionStore.verifyBundle(at: path, expectedKey: key) }
            #expect(throws: HistoryError.self, "\(label)") { _ = try b.sessions.importBundle(at: path, expectedKey: key) }
        }
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) { refusedImport(Array(bytes[0..<length]), "truncated to \(length)") }
        for offset in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 61)) {
            var damaged = bytes
            damaged[offset] ^= 0x20
            refusedImport(damaged, "byte \(offset) flipped")
        }
        for offset in 10..<16 {   // flags and reserved: a feature this stasis does not know
            var flagged = bytes
            flagged[offset] = 1
            refusedImport(flagged, "header byte \(offset) set")
        }
        // Signed by another key: pinning the real key refuses it.
        let other = try TemporaryStore()
        let s2 = try other.sessions.createSession().id
        try other.sessions.append(s2, [EventInput(kind: .note, data: ["text": "x"])])
        _ = try other.sessions.exportBundle(s2, to: other.file("o.bundle"))
        refusedImport([UInt8](FileManager.default.contents(atPath: other.file("o.bundle"))!), "another key", key: key)

        // An entry named to escape: rebuild a bundle with a "../" name.
        let evil = a.file("evil.bundle")
        let w = try BundleWriter(path: evil)
        try w.add("bundle.json", [UInt8](try BundleReader(path: file).data("bundle.json")))
        w.abandon()
        var forged = Array(bytes[0..<16])
        let name = Array("../../etc/passwd".utf8)
        withUnsafeBytes(of: UInt16(name.count).littleEndian) { forged.append(contentsOf: $0) }
        forged += name
        withUnsafeBytes(of: UInt64(1).littleEndian) { forged.append(contentsOf: $0) }
        forged += [0x41] + [UInt8](repeating: 0, count: 32)
        forged += Array(bytes[(bytes.count - 44)...])
        refusedImport(forged, "escaping name")
        #expect {
            _ = try SessionStore.verifyBundle(at: { FileManager.default.createFile(atPath: a.file("e2"), contents: Data(forged)); return a.file("e2") }())
        } throws: { "\($0)".contains("could escape") }

        // Nothing reached the target store.
        #expect(try b.sessions.sessions().isEmpty)
        #expect(try b.sessions.store.catalog.images().isEmpty)
        #expect(try b.sessions.store.catalog.packs().isEmpty)
        #expect(try b.sessions.store.gc().packsDeleted.isEmpty)
        #expect(try b.sessions.store.verify().leftoverFiles == 0)
    }
}
