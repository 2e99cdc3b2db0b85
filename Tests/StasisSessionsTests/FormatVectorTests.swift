import Crypto
import Foundation
import Testing
import StasisJSON
import StasisStore
@testable import StasisSessions

/// Invariants checked: the session layer reads and writes exactly what Formats/ documents — the
/// canonical JSON vector, the history event bodies with their leaf and chain hashes, tree head and
/// audit path, the checkpoint record and its id, and the bundle container — all written by an
/// independent implementation (Tools/formats/make_vectors.py).
@Suite("Session format vectors")
struct SessionFormatVectorTests {
    static func block(_ name: String, in file: String) -> String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let text = (try? String(contentsOfFile: url.path + "/Formats/" + file, encoding: .utf8)) ?? ""
        for fence in ["```text vector:\(name)\n", "```hex vector:\(name)\n"] {
            if let start = text.range(of: fence), let end = text.range(of: "```", range: start.upperBound..<text.endIndex) {
                return String(text[start.upperBound..<end.lowerBound])
            }
        }
        return ""
    }

    static func quoted(after label: String, in file: String) -> String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let text = (try? String(contentsOfFile: url.path + "/Formats/" + file, encoding: .utf8)) ?? ""
        guard let r = text.range(of: label), let open = text.range(of: "`", range: r.upperBound..<text.endIndex),
              let close = text.range(of: "`", range: open.upperBound..<text.endIndex) else { return "" }
        return String(text[open.upperBound..<close.lowerBound])
    }

    @Test("canonical JSON")
    func canonical() throws {
        let expected = Self.block("canonical-json", in: "canonical-json.md").trimmingCharacters(in: .newlines)
        let v = try JSONValue.parse(#"{"b":[1,2.50,true,null],"a":"x\"y\u00e9\n","é":{},"Z":-0}"#)
        #expect(!expected.isEmpty && v.canonicalString == expected)
    }

    @Test("history bodies, leaves, chains, root and proof")
    func history() throws {
        let lines = Self.block("history-events", in: "history.md").split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        var chain = HistoryHashing.genesis
        var leaves: [MerkleTree.Hash] = []
        for k in 0..<3 {
            let body = Array(lines[2 * k].utf8)
            let event = try #require(HistoryEvent.decode(body: body))
            #expect(event.body == body && event.seq == Int64(k))
            let hashes = lines[2 * k + 1].split(separator: " ").map(String.init)
            let leaf = MerkleTree.leafHash(body)
            chain = HistoryHashing.chain(previous: chain, leaf: leaf)
            #expect(StoreKey.hex(leaf) == hashes[0] && StoreKey.hex(chain) == hashes[1])
            leaves.append(leaf)
        }
        let root = MerkleTree.root(leaves[...])
        #expect(StoreKey.hex(root) == Self.quoted(after: "Root of the tree of the three:", in: "history.md"))
        let proof = Self.block("history-proof", in: "history.md").split(separator: "\n").map(String.init)
        #expect(MerkleTree.inclusionProof(index: 1, in: 0..<3) { MerkleTree.root(leaves[$0]) }.map { StoreKey.hex($0) } == proof)
    }

    @Test("format-2 (RFC 8785) history bodies: decoded, re-encoded byte for byte, hashed")
    func historyFormatTwo() throws {
        let lines = Self.block("history-events-v2", in: "history.md").split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        var chain = HistoryHashing.genesis
        var leaves: [MerkleTree.Hash] = []
        for k in 0..<3 {
            let body = Array(lines[2 * k].utf8)
            let event = try #require(HistoryEvent.decode(body: body))
            #expect(event.format == 2 && event.seq == Int64(k) && event.time == 1_795_900_000_000_000_000 + [0, 1_000_000, 3_000_000][k])
            #expect(event.body == body)
            let header = try #require(body.withUnsafeBytes { EventBodyHeader.parse($0) })
            #expect(header.seq == event.seq && header.time == event.time && header.format == 2)
            let leaf = MerkleTree.leafHash(body)
            chain = HistoryHashing.chain(previous: chain, leaf: leaf)
            #expect(lines[2 * k + 1] == StoreKey.hex(leaf) + " " + StoreKey.hex(chain))
            leaves.append(leaf)
        }
        #expect(StoreKey.hex(MerkleTree.root(leaves[...])) == Self.quoted(after: "Root of the tree of the three format-2 events:", in: "history.md"))
    }

    @Test("version-2 (RFC 8785) checkpoint record and id")
    func checkpointVersionTwo() throws {
        let record = Self.block("checkpoint-record-v2", in: "checkpoint.md").trimmingCharacters(in: .newlines)
        let decoded = try #require(CheckpointRecord.decode(Array(record.utf8)))
        #expect(decoded.formatVersion == 2 && decoded.createdAt == 1_795_900_000_000_000_000)
        #expect(decoded.canonicalBytes == Array(record.utf8))
        #expect(decoded.id == Self.quoted(after: "Its version-2 id:", in: "checkpoint.md"))
        #expect(decoded.meta["downtime_ms"] == .double(41.5))
    }

    @Test("checkpoint record and id")
    func checkpoint() throws {
        let record = Self.block("checkpoint-record", in: "checkpoint.md").trimmingCharacters(in: .newlines)
        let decoded = try #require(CheckpointRecord.decode(Array(record.utf8)))
        #expect(decoded.formatVersion == 1 && decoded.canonicalBytes == Array(record.utf8))
        #expect(decoded.id == Self.quoted(after: "Its id:", in: "checkpoint.md"))
        #expect(decoded.images["disk:root"] == String(repeating: "33", count: 32) && decoded.parent == nil)
    }

    @Test("checkpoint signature with a fixed key")
    func checkpointSignature() throws {
        let id = Self.quoted(after: "Its id:", in: "checkpoint.md")
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: Data(0..<32))
        #expect(StoreKey.hex(key.publicKey.rawRepresentation) == Self.quoted(after: "has the public key", in: "checkpoint.md"))
        let signature = try #require(StoreKey.bytes(fromHex: Self.block("checkpoint-signature", in: "checkpoint.md").filter { $0.isHexDigit }))
        let message = CheckpointRecord.signedMessage(id: id)
        #expect(signature.count == 64 && key.publicKey.isValidSignature(signature, for: message))
        #if os(Linux)
        // BoringSSL signs as RFC 8032 does, deterministically: the same bytes.
        #expect(Array(try key.signature(for: message)) == signature)
        #endif
    }

    @Test("bundle container")
    func bundle() throws {
        let hex = Self.block("bundle-container", in: "bundle.md").filter { $0.isHexDigit }
        let bytes = try #require(StoreKey.bytes(fromHex: hex))
        let path = NSTemporaryDirectory() + "vector-" + UUID().uuidString + ".bundle"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = try BundleReader(path: path)
        #expect(reader.order == ["a"])
        #expect(try reader.data("a") == Array("hi".utf8))
    }
}
