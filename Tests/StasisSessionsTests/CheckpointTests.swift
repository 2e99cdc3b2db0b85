import Crypto
import Foundation
import Testing
import StasisJSON
import StasisStore
@testable import StasisSessions

/// Invariants checked:
/// - a checkpoint's id is the SHA-256 of its canonical record, its signature verifies with the
///   store's public key, and it is bound to the history position it was taken at (and noted there);
/// - images round-trip bit-exact; an incremental memory image (dirty file) equals a full capture;
/// - a checkpoint others build on is kept unless --cascade; removing the last holder removes the
///   images and blobs it captured, and gc then frees their chunks; an image a checkpoint holds
///   cannot be removed on its own;
/// - retention keeps the newest N (and their ancestors) and removes the rest;
/// - unknown sessions and checkpoints, bad names and missing files are refused, adding nothing.
@Suite("Checkpoints and retention")
struct CheckpointTests {
    @Test("create, bind, sign, restore images, incremental memory")
    func create() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        var rng = Rng(state: 5)
        var memory = rng.bytes(256 * 1024)
        let memPath = t.write(memory, "mem")
        let disk = t.write(rng.bytes(128 * 1024), "disk")
        try t.sessions.append(s, randomEvents(12, &rng))
        let a = try t.sessions.createCheckpoint(s, CheckpointSpec(
            images: [.init(name: "memory", path: memPath), .init(name: "disk:root", path: disk)],
            blobs: [.init(name: "state", path: t.write([1, 2, 3], "state")), .init(name: "config", path: t.write(Array("{}".utf8), "cfg"))],
            labels: ["step": "1"]))
        #expect(a.record.historySize == 12)
        #expect(a.id == StoreKey.hex(SHA256.hash(data: a.record.canonicalBytes)))
        let pub = try #require(try t.sessions.store.catalog.meta("public_key"))
        #expect(StoreKey.verify(signature: a.signature, message: CheckpointRecord.signedMessage(id: a.id), publicKeyHex: pub))
        let events = try t.sessions.events(s)
        #expect(events.last?.kind == .checkpoint && events.last?.seq == 12 && events.last?.data["checkpoint"]?.stringValue == a.id)

        // Incremental memory: pages 3 and 40 change; the diff holds only those.
        for p in [3, 40] { for i in p * 4096..<(p + 1) * 4096 { memory[i] = UInt8(truncatingIfNeeded: i &* 7) } }
        _ = t.write(memory, "mem")
        let fd = open(t.file("diff"), O_RDWR | O_CREAT | O_TRUNC, 0o644)
        ftruncate(fd, off_t(memory.count))
        for p in [3, 40] { _ = memory.withUnsafeBytes { pwrite(fd, $0.baseAddress! + p * 4096, 4096, off_t(p * 4096)) } }
        close(fd)
        let b = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: memPath, dirty: t.file("diff"))]))
        #expect(b.record.parent == a.id)
        let out = t.file("out")
        _ = try t.sessions.store.materialize(b.record.images["memory"]!, to: out)
        #expect([UInt8](FileManager.default.contents(atPath: out)!) == memory)
        #expect(try t.sessions.checkpoints(s).map(\.id) == [a.id, b.id])
        #expect(try t.sessions.verifyHistory(s).ok)
        #expect(try t.sessions.checkpoint(String(a.id.prefix(8))).record == a.record)
    }

    @Test("removal respects descendants; owned images go with the last holder")
    func removal() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        var rng = Rng(state: 6)
        let a = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: t.write(rng.bytes(64 * 1024), "m1"))]))
        let b = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: t.write(rng.bytes(64 * 1024), "m2"))]))
        #expect(throws: StoreError.self) { _ = try t.sessions.store.removeImage(a.record.images["memory"]!) }
        #expect {
            try t.sessions.removeCheckpoint(a.id)
        } throws: { "\($0)".contains(b.id) && "\($0)".contains("--cascade") }
        let removed = try t.sessions.removeCheckpoint(a.id, cascade: true)
        #expect(Set(removed) == [a.id, b.id])
        #expect(try t.sessions.store.catalog.images().isEmpty)
        let gc = try t.sessions.store.gc()
        #expect(gc.bytesFreed > 0)
        #expect(try t.sessions.store.catalog.packs().isEmpty)
        #expect(try t.sessions.events(s).last?.kind == .note)
        #expect(try t.sessions.verifyHistory(s).ok)
    }

    @Test("retention keeps the newest and their ancestors")
    func retention() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        var ids: [String] = []
        for i in 0..<6 {
            ids.append(try t.sessions.createCheckpoint(s, CheckpointSpec(blobs: [.init(name: "config", path: t.write([UInt8(i)], "c\(i)"))]),
                                                       noParentIf: i == 3).id)
        }
        // ids[0..2] are one line, ids[3..5] another (3 has no parent).
        try t.sessions.setRetention(s, RetentionPolicy(keepLast: 1))
        let dry = try t.sessions.prune(s, dryRun: true)
        #expect(Set(dry[0].removed) == Set(ids[0...2]))
        #expect(try t.sessions.checkpoints(s).count == 6)
        let report = try t.sessions.prune()
        #expect(Set(report[0].kept) == Set(ids[3...5]))
        #expect(try t.sessions.checkpoints(s).map(\.id) == Array(ids[3...5]))
    }

    @Test("bad arguments add nothing")
    func badArguments() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        #expect(throws: HistoryError.self) { _ = try t.sessions.createCheckpoint("abcdef12", CheckpointSpec(blobs: [.init(name: "x", path: "/etc/hostname")])) }
        #expect(throws: HistoryError.self) { _ = try t.sessions.createCheckpoint(s, CheckpointSpec()) }
        #expect(throws: HistoryError.self) { _ = try t.sessions.createCheckpoint(s, CheckpointSpec(blobs: [.init(name: "Bad Name", path: "/etc/hostname")])) }
        #expect(throws: HistoryError.self) { _ = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: t.file("missing"))])) }
        #expect(throws: HistoryError.self) { _ = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: "/etc/hostname", dirty: "/etc/hostname")])) }
        #expect(throws: HistoryError.self) { _ = try t.sessions.checkpoint("0000") }
        #expect(try t.sessions.checkpoints(s).isEmpty)
        #expect(try t.sessions.historySize(s) == 0)
        #expect(try t.sessions.store.catalog.images().isEmpty)
    }
}

extension SessionStore {
    func createCheckpoint(_ s: String, _ spec: CheckpointSpec, noParentIf: Bool) throws(HistoryError) -> Checkpoint {
        var spec = spec
        spec.noParent = noParentIf
        return try createCheckpoint(s, spec)
    }
}

