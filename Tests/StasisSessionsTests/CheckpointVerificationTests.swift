import Crypto
import Foundation
import Testing
import StasisCatalog
import StasisJSON
import StasisStore
@testable import StasisSessions

/// Invariants checked (the catalog is the attacker's: every tamper is a raw write to its tables):
/// - an untouched checkpoint verifies, also one imported from a bundle signed by another store;
/// - a record rewritten to name another image, a flipped signature byte, a record re-signed by a
///   key the store never accepted, a catalog column or `checkpoint_refs` row that disagrees with
///   the record, a missing image or blob, an image whose catalog size differs from its manifest,
///   a non-canonical record: each is refused by `verifiedCheckpoint` with a typed
///   `CheckpointVerificationError.damaged` naming the checkpoint and what is wrong;
/// - `verifyHistory` reports the same damage as problems (never throws), so the CLI exits 2;
/// - verification changes nothing in the store.
@Suite("Checkpoint verification")
struct CheckpointVerificationTests {
    struct Fixture {
        let t: TemporaryStore
        let session: String
        let first: Checkpoint
        let second: Checkpoint
    }

    func fixture() throws -> Fixture {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        var rng = Rng(state: 11)
        try t.sessions.append(s, randomEvents(5, &rng))
        let m1 = t.write(rng.bytes(64 * 1024), "m1")
        let a = try t.sessions.createCheckpoint(s, CheckpointSpec(
            images: [.init(name: "memory", path: m1)],
            blobs: [.init(name: "state", path: t.write(rng.bytes(3000), "state1")), .init(name: "config", path: t.write(Array("{\"a\":1}".utf8), "cfg"))]))
        let m2 = t.write(rng.bytes(64 * 1024), "m2")
        let b = try t.sessions.createCheckpoint(s, CheckpointSpec(
            images: [.init(name: "memory", path: m2)],
            blobs: [.init(name: "state", path: t.write(rng.bytes(3000), "state2")), .init(name: "config", path: t.file("cfg"))]))
        return Fixture(t: t, session: s, first: a, second: b)
    }

    func tamper(_ t: TemporaryStore, _ sql: String, _ arguments: [any CatalogBindable] = []) throws {
        try t.sessions.store.catalog.database.write { db in _ = try db.execute(sql, arguments.map(\.catalogValue)) }
    }

    /// Rewrites the bytes of one row's column in Swift: the engines share no functions on bytes.
    func tamperBytes(_ t: TemporaryStore, _ table: String, _ column: String, id: String, _ change: (inout [UInt8]) -> Void) throws {
        try t.sessions.store.catalog.database.write { db in
            var bytes = try #require(try db.queryOne("SELECT \(column) FROM \(table) WHERE id = ?", id)).blob(column)
            change(&bytes)
            try db.execute("UPDATE \(table) SET \(column) = ? WHERE id = ?", bytes, id)
        }
    }

    func refusal(_ t: TemporaryStore, _ id: String) -> (String, [CheckpointDamage])? {
        do {
            _ = try t.sessions.verifiedCheckpoint(id)
            return nil
        } catch {
            guard case .damaged(let named, let damage) = error else { Issue.record("not a damage error: \(error)"); return nil }
            #expect(error.description.contains(id))
            return (named, damage)
        }
    }

    func catalogBytes(_ t: TemporaryStore) -> Data {
        try? t.sessions.store.catalog.database.checkpointLog()
        return FileManager.default.contents(atPath: t.sessions.store.layout.catalogPath) ?? Data()
    }

    @Test("untouched checkpoints verify")
    func untouched() throws {
        let f = try fixture()
        let c = try f.t.sessions.verifiedCheckpoint(String(f.second.id.prefix(10)))
        #expect(c.id == f.second.id && c.record == f.second.record)
        #expect(try f.t.sessions.checkpointDamage(f.first.id).isEmpty)
        #expect(try f.t.sessions.verifyHistory(f.session).ok)
        do { _ = try f.t.sessions.verifiedCheckpoint("abcdabcd"); Issue.record("unknown id accepted") } catch {
            guard case .notChecked(.checkpointNotFound) = error else { Issue.record("\(error)"); return }
        }
    }

    @Test("a record rewritten to name another memory image is refused")
    func rewrittenRecord() throws {
        let f = try fixture()
        let m1 = f.first.record.images["memory"]!, m2 = f.second.record.images["memory"]!
        try tamperBytes(f.t, "checkpoints", "record", id: f.second.id) { record in
            record = Array(String(decoding: record, as: UTF8.self).replacingOccurrences(of: m2, with: m1).utf8)
        }
        let before = catalogBytes(f.t)
        let (named, damage) = try #require(refusal(f.t, f.second.id))
        #expect(named == f.second.id)
        #expect(damage.contains { if case .idMismatch = $0 { true } else { false } })
        // The references still name M2: they disagree with the rewritten record too.
        #expect(damage.contains { if case .referencesMismatch = $0 { true } else { false } })
        let history = try f.t.sessions.verifyHistory(f.session)
        #expect(!history.ok && history.problems.contains { $0.contains(f.second.id) && $0.contains("rewritten") })
        #expect(catalogBytes(f.t) == before)

        // The attacker also fixes up the references: the hash still gives it away.
        try tamper(f.t, "UPDATE checkpoint_refs SET target = ? WHERE checkpoint_id = ? AND name = 'memory'", [m1, f.second.id])
        let (_, again) = try #require(refusal(f.t, f.second.id))
        #expect(again.count == 1)
        guard case .idMismatch = again[0] else { Issue.record("\(again)"); return }
    }

    @Test("a flipped signature byte is refused")
    func flippedSignature() throws {
        let f = try fixture()
        var signature = f.first.signature
        signature[10] ^= 0x01
        try tamper(f.t, "UPDATE checkpoints SET signature = ? WHERE id = ?", [signature, f.first.id])
        let (_, damage) = try #require(refusal(f.t, f.first.id))
        #expect(damage.count == 1)
        guard case .badSignature = damage[0] else { Issue.record("\(damage)"); return }
        #expect(try f.t.sessions.checkpointDamage(f.second.id).isEmpty)
        // A proof against its tree head is not "verified" any more.
        #expect(try !f.t.sessions.prove(f.session, seq: 1, checkpoint: f.first.id).verified)
        #expect(try f.t.sessions.prove(f.session, seq: 1, checkpoint: f.second.id).verified)
        let history = try f.t.sessions.verifyHistory(f.session)
        #expect(history.problems.contains { $0.contains(f.first.id) && $0.contains("signature") })
    }

    @Test("a record re-signed by the attacker's own key is refused")
    func forgedSigner() throws {
        let f = try fixture()
        var record = f.second.record
        record.images["memory"] = f.first.record.images["memory"]
        let attacker = Curve25519.Signing.PrivateKey()
        let id = record.id
        let signature = try attacker.signature(for: CheckpointRecord.signedMessage(id: id))
        try tamper(f.t, """
            INSERT INTO checkpoints(id, session_id, parent_id, created_at, history_size, record, signature, signer_key)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [id, f.session, record.parent, Double(record.createdAt) / 1e9, record.historySize, record.canonicalBytes,
                  Array(signature), StoreKey.hex(attacker.publicKey.rawRepresentation)])
        for (name, target) in record.images {
            try tamper(f.t, "INSERT INTO checkpoint_refs(checkpoint_id, name, kind, target, owned) VALUES (?, ?, 'image', ?, 0)", [id, name, target])
        }
        for (name, target) in record.blobs {
            try tamper(f.t, "INSERT INTO checkpoint_refs(checkpoint_id, name, kind, target, owned) VALUES (?, ?, 'blob', ?, 0)", [id, name, target])
        }
        let (_, damage) = try #require(refusal(f.t, id))
        #expect(damage.count == 1)
        guard case .untrustedSigner(let key, let session) = damage[0] else { Issue.record("\(damage)"); return }
        #expect(key == StoreKey.hex(attacker.publicKey.rawRepresentation) && session == f.session)
        #expect(try !f.t.sessions.prove(f.session, seq: 1, checkpoint: id).verified)
        // A forged acceptance, signed by the attacker, does not help either.
        let forged = try attacker.signature(for: SessionStore.signerMessage(session: f.session, signer: key))
        try tamper(f.t, "INSERT INTO store_meta(key, value) VALUES (?, ?)", [SessionStore.signerMetaKey(session: f.session, signer: key), StoreKey.hex(forged)])
        #expect(try f.t.sessions.checkpointDamage(id).count == 1)
    }

    @Test("catalog columns, references, images and blobs that disagree with the record are named")
    func catalogDisagrees() throws {
        let f = try fixture()
        let t = f.t
        try tamper(t, "UPDATE checkpoints SET parent_id = NULL, history_size = 0 WHERE id = ?", [f.second.id])
        let (_, columns) = try #require(refusal(t, f.second.id))
        #expect(columns.map(\.description).joined().contains("parent_id") && columns.map(\.description).joined().contains("history_size"))

        let m1 = f.first.record.images["memory"]!
        try tamper(t, "UPDATE images SET size = size + 4096 WHERE id = ?", [m1])
        let (_, size) = try #require(refusal(t, f.first.id))
        guard case .imageSizeMismatch(let name, let image, _, _) = size.first else { Issue.record("\(size)"); return }
        #expect(name == "memory" && image == m1)

        let state = f.first.record.blobs["state"]!
        try tamper(t, "DELETE FROM blobs WHERE id = ?", [state])
        try tamper(t, "DELETE FROM checkpoint_refs WHERE checkpoint_id = ? AND name = 'config'", [f.first.id])
        let (_, more) = try #require(refusal(t, f.first.id))
        #expect(more.contains { if case .missingBlob("state", state) = $0 { true } else { false } })
        #expect(more.contains { if case .referencesMismatch = $0 { true } else { false } })

        try tamper(t, "DELETE FROM images WHERE id = ?", [m1])
        #expect(try t.sessions.checkpointDamage(f.first.id).contains { if case .missingImage("memory", m1) = $0 { true } else { false } })
    }

    @Test("a damaged blob manifest is named with its cause")
    func blobManifest() throws {
        let f = try fixture()
        let state = f.first.record.blobs["state"]!
        // The size field of the manifest (bytes 12…19).
        try tamperBytes(f.t, "blobs", "manifest", id: state) { $0[12] = 0xFF }
        let (_, damage) = try #require(refusal(f.t, f.first.id))
        guard case .unreadableBlob("state", state, let cause) = damage.first else { Issue.record("\(damage)"); return }
        guard case .corruptManifest = cause else { Issue.record("cause \(cause)"); return }
    }

    @Test("a non-canonical record is reported by history verify, not thrown")
    func nonCanonical() throws {
        let f = try fixture()
        try tamperBytes(f.t, "checkpoints", "record", id: f.first.id) { $0.insert(UInt8(ascii: " "), at: 0) }
        let (_, damage) = try #require(refusal(f.t, f.first.id))
        #expect(damage.contains { if case .recordNotCanonical = $0 { true } else { false } })
        let history = try f.t.sessions.verifyHistory(f.session)
        #expect(!history.ok && history.problems.contains { $0.contains(f.first.id) })
    }

    @Test("an imported session's checkpoints verify with the key the store accepted at import")
    func imported() throws {
        let f = try fixture()
        let bundle = f.t.file("s.bundle")
        _ = try f.t.sessions.exportBundle(f.session, to: bundle)
        let other = try TemporaryStore()
        _ = try other.sessions.importBundle(at: bundle)
        let c = try other.sessions.verifiedCheckpoint(f.second.id)
        #expect(c.signerKey == (try f.t.sessions.store.catalog.meta("public_key")))
        #expect(try other.sessions.verifyHistory(f.session).ok)

        // Without the store's acceptance, the foreign key is not believed.
        try tamper(other, "DELETE FROM store_meta WHERE key LIKE 'trusted-signer:%'")
        let (_, damage) = try #require(refusal(other, f.second.id))
        guard case .untrustedSigner = damage.first else { Issue.record("\(damage)"); return }
        let history = try other.sessions.verifyHistory(f.session)
        #expect(history.problems.contains { $0.contains("history head") && $0.contains("never accepted") })
    }

    @Test("columns of the wrong type are damage, not a crash")
    func wrongTypes() throws {
        let f = try fixture()
        // Only SQLite lets a column hold a value of another type; PostgreSQL refuses the write.
        guard f.t.sessions.store.catalog.database.engine == .sqlite else { return }
        try tamper(f.t, "UPDATE checkpoints SET history_size = 'x', created_at = 'y' WHERE id = ?", [f.first.id])
        try tamper(f.t, "UPDATE checkpoints SET signature = 42 WHERE id = ?", [f.second.id])
        try tamper(f.t, "UPDATE sessions SET head_size = 'zz' WHERE id = ?", [f.session])
        let (_, first) = try #require(refusal(f.t, f.first.id))
        #expect(first.map(\.description).joined().contains("history_size") && first.map(\.description).joined().contains("created_at"))
        let (_, second) = try #require(refusal(f.t, f.second.id))
        guard case .badSignature = second.first else { Issue.record("\(second)"); return }
        let history = try f.t.sessions.verifyHistory(f.session)
        #expect(history.problems.contains { $0.contains("head_size") })
    }

    @Test("verifyCatalog names damaged checkpoints, orphans and a replaced public key")
    func catalogReport() throws {
        let f = try fixture()
        #expect(try f.t.sessions.verifyCatalog(histories: true).problems.isEmpty)
        try tamper(f.t, "INSERT INTO checkpoint_refs(checkpoint_id, name, kind, target, owned) VALUES (?, 'memory', 'image', ?, 1)",
                   [String(repeating: "cd", count: 32), f.first.record.images["memory"]!])
        try tamper(f.t, "UPDATE store_meta SET value = ? WHERE key = 'public_key'", [String(repeating: "00", count: 32)])
        var signature = f.first.signature
        signature[0] ^= 0x80
        try tamper(f.t, "UPDATE checkpoints SET signature = ? WHERE id = ?", [signature, f.first.id])
        try tamper(f.t, """
            INSERT INTO events(session_id, seq, time_ns, kind, body, leaf, chain)
            SELECT 'ffffffffffffffffffffffffffffffff', seq, time_ns, kind, body, leaf, chain FROM events WHERE session_id = ?
            """, [f.session])
        let report = try f.t.sessions.verifyCatalog(histories: true)
        let kinds = Set(report.problems.map(\.kind))
        #expect(kinds == ["orphan-reference", "store-key", "damaged-checkpoint", "orphan-history"], "\(report.problems)")
        #expect(report.problems.contains { $0.kind == "damaged-checkpoint" && $0.subject == f.first.id })
        #expect(report.checkpoints == 2 && report.histories == 1)
    }

    @Test("a key file readable by others is refused, naming the file and chmod 600")
    func looseKey() throws {
        let f = try fixture()
        let path = f.t.sessions.store.layout.keyPath
        #expect(chmod(path, 0o640) == 0)
        let fresh = SessionStore(store: f.t.sessions.store)      // the key is loaded once per SessionStore
        do { _ = try fresh.verifiedCheckpoint(f.first.id); Issue.record("accepted") } catch {
            guard case .notChecked(.badArgument(let field, let message)) = error else { Issue.record("\(error)"); return }
            #expect(field.contains(path) && message.contains("chmod 600 \(path)"))
        }
        do { try fresh.append(f.session, [EventInput(kind: .note, data: ["text": "x"])]); Issue.record("accepted") } catch {}
        #expect(try fresh.historySize(f.session) == f.first.record.historySize + 2)
        let report = try fresh.verifyCatalog(histories: false)
        #expect(report.problems.map(\.kind) == ["store-key"])
        #expect(chmod(path, 0o600) == 0)
        #expect(try fresh.verifiedCheckpoint(f.first.id).id == f.first.id)
    }
}
