import Foundation
import StasisCatalog
import StasisStoreTestSupport
import Testing
import StasisJSON
@testable import StasisRestore
@testable import StasisSandbox
import StasisSessions
import StasisStore

/// A restore believes nothing it reads back (no VM needed: restores here stop before the start).
/// Invariants checked, each with the attack that broke it before:
/// - a checkpoint record rewritten in the catalog to name another memory image
///   (`UPDATE checkpoints SET record = replace(record, M2, M1)`) is refused by `plan` and
///   `restore`, naming the checkpoint; nothing is written;
/// - a flipped byte in a record's signature is refused the same way;
/// - one byte written into a cached base (`cache/images/ID.img`) stops the restore that would
///   patch from it, naming the file and the checkpoint; an intact base is used and the result is
///   bit-exact;
/// - one byte written into a cached kernel (`cache/blobs/ID`) stops the restore; a cached file
///   without a seal is re-checked by its hash (sealed when it matches, refused when not);
/// - a seal key that others can read is refused with the `chmod 600` fix.
@Suite("Verified restores")
struct VerifiedRestoreTests {
    final class Fixture {
        let path = NSTemporaryDirectory() + "vrest-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let service: SandboxService
        let session: String
        var sessions: SessionStore { service.sessions }

        init() throws {
            let store = try TestStores.create(at: path + "/s")
            service = SandboxService(sessions: SessionStore(store: store), sandboxesDirectory: path + "/x")
            session = try service.sessions.createSession(labels: [:]).id
            try FileManager.default.createDirectory(atPath: path + "/in", withIntermediateDirectories: true)
            try write("kernel", Array(repeating: 0x4B, count: 300_000) + [1, 2, 3])
            try write("initrd", (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try write("state", Array("device state".utf8))
            let spec = SandboxSpec(id: "0123456789abcdef", session: session, memoryBytes: 4 << 20, vcpus: 1, accelerator: "tcg",
                                   kernelCommandLine: "console=ttyS0", mac: "02:00:00:00:00:01", vsockCID: 3,
                                   machineID: String(repeating: "a", count: 32), disks: [], restoredFrom: nil, createdAt: Date())
            try spec.json.write(to: URL(fileURLWithPath: path + "/in/config"))
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        func write(_ name: String, _ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: path + "/in/" + name))
        }

        /// A checkpoint of a 4 MiB "guest memory" whose pages carry `seed`.
        func checkpoint(seed: UInt8) throws -> (id: String, memory: [UInt8]) {
            var memory = [UInt8](repeating: 0, count: 4 << 20)
            for page in stride(from: 0, to: memory.count, by: 8192) { memory[page] = seed; memory[page + 1] = UInt8(page >> 13 & 0xFF) }
            try write("memory-\(seed)", memory)
            let spec = CheckpointSpec(images: [.init(name: "memory", path: path + "/in/memory-\(seed)")],
                                      blobs: ["state", "config", "kernel", "initrd"].map { .init(name: $0, path: path + "/in/" + $0) })
            return (try sessions.createCheckpoint(session, spec).id, memory)
        }

        /// Rewrites one column of a checkpoint's row with raw SQL, on whichever engine holds the
        /// catalog, as an attacker with write access to it would.
        func tamper(checkpoint id: String, column: String, _ edit: ([UInt8]) -> [UInt8]) throws {
            try sessions.store.catalog.database.write { db in
                let old = try #require(try db.queryOne("SELECT \(column) FROM checkpoints WHERE id = ?", id)).blob(column)
                try db.execute("UPDATE checkpoints SET \(column) = ? WHERE id = ?", edit(old), id)
            }
        }

        /// Writes one byte into a read-only cached file, as an attacker owning the files would.
        func flipByte(_ file: String, at offset: UInt64 = 4097) throws {
            chmod(file, 0o644)
            let h = try FileHandle(forUpdating: URL(fileURLWithPath: file))
            try h.seek(toOffset: offset)
            let old = try h.read(upToCount: 1)?.first ?? 0
            try h.seek(toOffset: offset)
            try h.write(contentsOf: [old ^ 0xFF])
            try h.close()
            chmod(file, 0o444)
        }

        func restore(_ id: String) throws -> RestoreResult {
            try service.restore(id, start: false, directory: path + "/r-" + String(UInt32.random(in: 0...UInt32.max), radix: 16))
        }

        var sandboxDirectories: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasPrefix("r-") }
        }
    }

    @Test("a record rewritten to name another memory image, or with a flipped signature byte, is refused")
    func tamperedRecord() throws {
        let f = try Fixture()
        let c1 = try f.checkpoint(seed: 1), c2 = try f.checkpoint(seed: 2)
        let m1 = try f.sessions.checkpoint(c1.id).record.images["memory"]!
        let m2 = try f.sessions.checkpoint(c2.id).record.images["memory"]!
        let good = try f.restore(c2.id)
        #expect(FileManager.default.contents(atPath: good.plan.images[0].file) == Data(c2.memory))
        try FileManager.default.removeItem(atPath: good.plan.directory)

        try f.tamper(checkpoint: c2.id, column: "record") { Array(String(decoding: $0, as: UTF8.self).replacingOccurrences(of: m2, with: m1).utf8) }
        #expect { _ = try f.service.plan(c2.id) } throws: { "\($0)".contains(c2.id) && "\($0)".contains("rewritten") }
        #expect { _ = try f.restore(c2.id) } throws: { "\($0)".contains(c2.id) }
        #expect(f.sandboxDirectories.isEmpty)

        // The other checkpoint: its signature's first byte flipped.
        try f.tamper(checkpoint: c1.id, column: "signature") { var s = $0; s[0] ^= 1; return s }
        #expect { _ = try f.restore(c1.id) } throws: { "\($0)".contains(c1.id) && "\($0)".contains("signature") }
        #expect(f.sandboxDirectories.isEmpty)
    }

    @Test("a cached base is used while sealed, and a byte written into it stops the restore")
    func tamperedBase() throws {
        let f = try Fixture()
        let c = try f.checkpoint(seed: 7)
        let memoryImage = try f.sessions.checkpoint(c.id).record.images["memory"]!
        // A checkpoint leaves its paused copy as a base: the same, done by hand.
        let copy = f.path + "/paused.mem"
        _ = try f.sessions.store.materialize(memoryImage, to: copy)
        let cache = BaseCache(store: f.sessions.store)
        cache.adopt(copy, as: memoryImage)
        #expect(cache.contains(memoryImage))

        let patched = try f.restore(c.id)
        #expect(patched.patchedFromBase["memory"] == memoryImage)
        #expect(FileManager.default.contents(atPath: patched.plan.images[0].file) == Data(c.memory))

        try f.flipByte(cache.path(for: memoryImage))
        let before = f.sandboxDirectories.count
        #expect { _ = try f.restore(c.id) } throws: {
            "\($0)".contains(cache.path(for: memoryImage)) && "\($0)".contains(c.id) && "\($0)".contains("seal")
        }
        #expect(f.sandboxDirectories.count == before)

        // A base without a seal (an older cache) is never offered: the restore writes from the store.
        try FileManager.default.removeItem(atPath: FileSeal.sealPath(for: cache.path(for: memoryImage)))
        let fromStore = try f.restore(c.id)
        #expect(fromStore.patchedFromBase.isEmpty)
        #expect(FileManager.default.contents(atPath: fromStore.plan.images[0].file) == Data(c.memory))
    }

    @Test("a byte written into a cached kernel stops the restore; an unsealed one is checked by its hash")
    func tamperedBootFile() throws {
        let f = try Fixture()
        let c = try f.checkpoint(seed: 3)
        let kernel = try f.sessions.checkpoint(c.id).record.blobs["kernel"]!
        let first = try f.restore(c.id)                     // writes and seals the host's copy
        let cached = BootFileCache(store: f.sessions.store).path(for: kernel)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: first.plan.blobs.first { $0.name == "kernel" }!.file) == cached)

        // Unsealed (an older Stasis wrote it) but intact: checked by hash, sealed, used.
        try FileManager.default.removeItem(atPath: FileSeal.sealPath(for: cached))
        _ = try f.restore(c.id)
        #expect(FileManager.default.fileExists(atPath: FileSeal.sealPath(for: cached)))

        try f.flipByte(cached, at: 10)
        let before = f.sandboxDirectories.count
        #expect { _ = try f.restore(c.id) } throws: { "\($0)".contains(cached) && "\($0)".contains("seal") }
        // Without its seal the damaged copy is caught by its hash.
        try FileManager.default.removeItem(atPath: FileSeal.sealPath(for: cached))
        #expect { _ = try f.restore(c.id) } throws: { "\($0)".contains(cached) && "\($0)".contains("does not hash") }
        #expect(f.sandboxDirectories.count == before)
    }

    @Test("a seal key others can read is refused, naming the fix")
    func looseSealKey() throws {
        let f = try Fixture()
        let c = try f.checkpoint(seed: 4)
        _ = try f.restore(c.id)
        let key = CacheSealKey.path(storeRoot: f.sessions.store.layout.root)
        chmod(key, 0o644)
        #expect { _ = try f.restore(c.id) } throws: { "\($0)".contains("chmod 600 \(key)") }
    }
}
