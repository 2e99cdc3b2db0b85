import Crypto
import Foundation
import Testing
import StasisStore
@testable import StasisSessions

/// Invariants checked: a history's signed note has the C2SP tlog-checkpoint shape (origin, size,
/// base64 root, blank line, one `— name base64(keyid‖sig)` line); its root is the RFC 6962 head
/// at that size; the key id is SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[0..4] and the signature verifies
/// over the body — recomputed here from the bytes, not through the producer; any changed byte,
/// another key or a damaged checkpoint is refused.
@Suite("Signed notes of tree heads")
struct SignedNoteTests {
    @Test("the current head and a checkpoint's head, checked from the bytes")
    func notes() throws {
        let t = try TemporaryStore()
        let session = try t.sessions.createSession().id
        try t.sessions.append(session, (0..<5).map { EventInput(kind: .note, data: ["text": .string("e\($0)")]) })
        let note = try t.sessions.signedNote(session)
        let lines = note.text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 6 && lines[0] == "stasis-session/\(session)" && lines[1] == "5" && lines[3].isEmpty && lines[5].isEmpty)
        #expect(Data(base64Encoded: String(lines[2])).map { StoreKey.hex($0) } == (try t.sessions.treeHead(session).root))
        // Recompute the key id and the signature check by hand.
        let publicKey = try #require(StoreKey.bytes(fromHex: try t.sessions.signingKey().publicKeyHex))
        let name = "stasis-store-" + StoreKey.hex(publicKey).prefix(16)
        let signatureLine = lines[4].split(separator: " ")
        #expect(signatureLine.count == 3 && signatureLine[0] == "\u{2014}" && signatureLine[1] == name)
        let blob = try #require(Data(base64Encoded: String(signatureLine[2])))
        #expect(Array(blob.prefix(4)) == Array(SHA256.hash(data: Array(name.utf8) + [0x0A, 0x01] + publicKey).prefix(4)))
        let key = try Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
        #expect(key.isValidSignature(blob.dropFirst(4), for: Array(lines[0...2].joined(separator: "\n").utf8) + [0x0A]))
        #expect(SignedNote.verify(note.text, verifierKey: note.verifierKey)?.size == 5)

        // Any changed byte, or another key, is refused.
        var forged = Array(note.text.utf8)
        forged[forged.firstIndex(of: UInt8(ascii: "5"))!] = UInt8(ascii: "6")
        #expect(SignedNote.verify(String(decoding: forged, as: UTF8.self), verifierKey: note.verifierKey) == nil)
        let other = Curve25519.Signing.PrivateKey().publicKey.rawRepresentation
        let otherKey = "\(name)+\(StoreKey.hex(SignedNote.keyID(name: name, publicKey: Array(other))))+\(Data([0x01] + other).base64EncodedString())"
        #expect(SignedNote.verify(note.text, verifierKey: otherKey) == nil)

        // A checkpoint's head: the size it covers; a tampered checkpoint is not signed.
        let c = try t.sessions.createCheckpoint(session, CheckpointSpec(
            images: [.init(name: "memory", path: t.write(Array(repeating: 7, count: 8192), "m"))],
            blobs: [.init(name: "config", path: t.write(Array("{}".utf8), "cfg"))]))
        try t.sessions.append(session, [EventInput(kind: .note, data: ["text": .string("after")])])
        let atCheckpoint = try t.sessions.signedNote(session, checkpoint: c.id)
        #expect(atCheckpoint.size == c.record.historySize && atCheckpoint.root == c.record.historyRoot)
        #expect(try t.sessions.signedNote(session).size == c.record.historySize + 2)
    }
}
