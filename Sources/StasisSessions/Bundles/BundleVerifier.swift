import Crypto
import Foundation
import StasisJSON
import StasisStore

/// What `bundle verify` found, and what `bundle import` needs.
public struct BundleReport: Sendable, Codable {
    public var path: String
    public var session: String
    public var events: Int64
    public var checkpoints: [String]
    public var images: Int
    public var blobs: Int
    public var chunks: Int
    /// The public keys that signed the history head and the checkpoints.
    public var signers: [String]
}

/// Checks a bundle offline, without any store: every entry's digest; the history's positions,
/// leaves, chain and signed head; every checkpoint's id, signature and tree head; every manifest
/// against its id; every chunk against its id; every blob against its id. With `expectedKey`,
/// every signature must be by that key.
struct BundleVerifier {
    struct Verified {
        var report: BundleReport
        var manifest: BundleManifest
        var bodies: [[UInt8]]
        var records: [(Checkpoint, String)]          // checkpoint, signer
        var imageManifests: [(String, [UInt8])]
        var blobManifests: [(String, [UInt8])]
        var pack: EmbeddedPack
    }

    static func verify(_ reader: BundleReader, expectedKey: String?) throws(HistoryError) -> Verified {
        let path = reader.path
        func bad(_ m: String) -> HistoryError { .badBundle(path: path, message: m) }
        let manifest = try BundleManifest(try reader.data("bundle.json"), path: path)

        // Only known entries.
        var expected: Set<String> = ["bundle.json", BundleManifest.eventsEntry, BundleManifest.packEntry]
        for c in manifest.checkpoints { expected.insert("checkpoints/\(c.id).record"); expected.insert("checkpoints/\(c.id).sig") }
        for i in manifest.images { expected.insert("manifests/\(i).manifest") }
        for b in manifest.blobs { expected.insert("blobs/\(b).blob-manifest") }
        let expectedStored = Set(expected.map(reader.storedName))
        if let extra = reader.order.first(where: { !expectedStored.contains($0) }) { throw bad("unexpected entry '\(extra)'") }
        if let missing = expected.sorted().first(where: { reader.entry($0) == nil }) { throw bad("entry '\(missing)' is missing") }

        let signers = Set([manifest.headSigner] + manifest.checkpoints.map(\.signer))
        if let expectedKey, let other = signers.first(where: { $0 != expectedKey.lowercased() }) {
            throw bad("it is signed by another key (\(other)), not by the expected \(expectedKey.lowercased())")
        }

        // Checkpoint records and signatures.
        var records: [(Checkpoint, String)] = []
        for c in manifest.checkpoints {
            let bytes = try reader.data("checkpoints/\(c.id).record")
            guard let record = CheckpointRecord.decode(bytes) else { throw bad("checkpoint \(c.id): its record is not a canonical checkpoint record of version 1 or 2") }
            guard record.id == c.id else { throw bad("checkpoint \(c.id): its record hashes to \(record.id)") }
            guard record.session == manifest.session else { throw bad("checkpoint \(c.id) belongs to session \(record.session), not \(manifest.session)") }
            let signature = try reader.data("checkpoints/\(c.id).sig")
            guard StoreKey.verify(signature: signature, message: CheckpointRecord.signedMessage(id: c.id), publicKeyHex: c.signer) else {
                throw bad("checkpoint \(c.id): its signature does not verify with key \(c.signer)")
            }
            for image in record.images.values where !manifest.images.contains(image) { throw bad("checkpoint \(c.id) names image \(image), which the bundle lacks") }
            for blob in record.blobs.values where !manifest.blobs.contains(blob) { throw bad("checkpoint \(c.id) names blob \(blob), which the bundle lacks") }
            records.append((Checkpoint(id: c.id, record: record, signature: signature), c.signer))
        }

        // History: positions, leaves, chain, tree heads at checkpoints, signed head.
        var bodies: [[UInt8]] = []
        var chain = HistoryHashing.genesis
        var leaves: [MerkleTree.Hash] = []
        let events = try reader.data(BundleManifest.eventsEntry)
        var at = 0
        while at < events.count {
            guard at + 4 <= events.count else { throw bad("history/events is truncated at byte \(at)") }
            let n = Int(events[at..<at + 4].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
            guard at + 4 + n <= events.count else { throw bad("history/events is truncated at byte \(at)") }
            let body = Array(events[(at + 4)..<(at + 4 + n)])
            let seq = Int64(bodies.count)
            guard let event = HistoryEvent.decode(body: body), event.body == body else { throw bad("event \(seq) is not a canonical event") }
            guard event.seq == seq else { throw bad("event \(seq) holds the body of event \(event.seq) (reordered, dropped or inserted)") }
            let leaf = MerkleTree.leafHash(body)
            chain = HistoryHashing.chain(previous: chain, leaf: leaf)
            leaves.append(leaf)
            bodies.append(body)
            at += 4 + n
        }
        guard Int64(bodies.count) == manifest.historySize, StoreKey.hex(chain) == manifest.historyChain else {
            throw bad("its history (\(bodies.count) events) does not match its signed head (\(manifest.historySize) events)")
        }
        guard let headSignature = StoreKey.bytes(fromHex: manifest.headSignature),
              StoreKey.verify(signature: headSignature, message: SessionStore.headMessage(session: manifest.session, size: manifest.historySize, chain: chain), publicKeyHex: manifest.headSigner) else {
            throw bad("its history head signature does not verify with key \(manifest.headSigner)")
        }
        for (c, _) in records {
            let size = Int(c.record.historySize)
            guard size <= leaves.count, StoreKey.hex(MerkleTree.root(leaves[0..<size])) == c.record.historyRoot else {
                throw bad("checkpoint \(c.id): its signed tree head does not match the bundle's history")
            }
        }

        // Manifests and the chunks they need.
        var needed = Set<ChunkID>()
        var imageManifests: [(String, [UInt8])] = []
        for id in manifest.images {
            let bytes = try reader.data("manifests/\(id).manifest")
            guard ImageManifest.id(ofEncoded: bytes) == id else { throw bad("image manifest \(id) does not hash to its id") }
            let m: ImageManifest
            do throws(StoreError) { m = try ImageManifest.decode(bytes, id: id) } catch { throw bad(error.description) }
            for case let c? in m.chunks { needed.insert(c) }
            imageManifests.append((id, bytes))
        }
        var blobManifests: [(String, [UInt8])] = []
        var blobDecoded: [(String, BlobManifest)] = []
        for id in manifest.blobs {
            let bytes = try reader.data("blobs/\(id).blob-manifest")
            let m: BlobManifest
            do throws(StoreError) { m = try BlobManifest.decode(bytes, id: id) } catch { throw bad(error.description) }
            for e in m.entries { needed.insert(e.id) }
            blobManifests.append((id, bytes))
            blobDecoded.append((id, m))
        }

        // The pack: its digest (streamed), its table, every chunk verified, nothing missing. (In
        // an encrypted bundle each segment read below is also authenticated as it is decrypted.)
        try reader.checkDigest(BundleManifest.packEntry)
        let packSize = try reader.length(BundleManifest.packEntry)
        let pack: EmbeddedPack
        do throws(StoreError) {
            pack = try EmbeddedPack.parse(name: BundleManifest.packEntry, size: packSize) { (offset, count) throws(StoreError) in
                do throws(HistoryError) { return try reader.read(BundleManifest.packEntry, offset: offset, count: count) } catch {
                    throw StoreError.corruptPack(pack: BundleManifest.packEntry, reason: error.description)
                }
            }
        } catch { throw bad(error.description) }
        var byID: [ChunkID: EmbeddedPack.Entry] = [:]
        for e in pack.entries { byID[e.id] = e }
        if let missing = needed.first(where: { byID[$0] == nil }) { throw bad("chunk \(missing) is needed but not in the bundle") }
        func raw(_ id: ChunkID) throws(HistoryError) -> [UInt8] {
            let e = byID[id]!
            let stored = try reader.read(BundleManifest.packEntry, offset: e.offset, count: e.storedLength)
            do throws(StoreError) { return try pack.decode(e, stored: stored, pack: BundleManifest.packEntry) } catch { throw bad(error.description) }
        }
        // In pack order: reads go forward through the file (and through an encrypted bundle's
        // segments, each decrypted once).
        for e in pack.entries.sorted(by: { $0.offset < $1.offset }) where needed.contains(e.id) { _ = try raw(e.id) }
        for (id, m) in blobDecoded {
            var h = SHA256()
            for e in m.entries { h.update(data: try raw(e.id)) }
            guard StoreKey.hex(h.finalize()) == id else { throw bad("blob \(id): its chunks do not add up to its id") }
        }

        let report = BundleReport(path: path, session: manifest.session, events: manifest.historySize,
                                  checkpoints: records.map(\.0.id), images: manifest.images.count, blobs: manifest.blobs.count,
                                  chunks: needed.count, signers: signers.sorted())
        return Verified(report: report, manifest: manifest, bodies: bodies, records: records,
                        imageManifests: imageManifests, blobManifests: blobManifests, pack: pack)
    }
}
