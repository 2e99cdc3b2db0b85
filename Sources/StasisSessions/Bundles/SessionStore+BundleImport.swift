import Foundation
import StasisCatalog
import StasisIO
import StasisJSON
import StasisStore

extension SessionStore {
    /// Checks a bundle offline (no store needed). `expectedKey` pins the signer; `passphrase`
    /// opens an encrypted bundle.
    public static func verifyBundle(at path: String, expectedKey: String? = nil, passphrase: [UInt8]? = nil) throws(HistoryError) -> BundleReport {
        let reader = try BundleReader(path: path, passphrase: passphrase)
        return try BundleVerifier.verify(reader, expectedKey: expectedKey).report
    }

    /// Verifies a bundle completely, then adds its session — history, checkpoints, images, blobs
    /// and chunks — in one catalog transaction. Nothing is committed if any check fails; a crash
    /// leaves at most an unreferenced pack and manifests that `gc` removes.
    public func importBundle(at path: String, expectedKey: String? = nil, passphrase: [UInt8]? = nil) throws(HistoryError) -> BundleReport {
        let reader = try BundleReader(path: path, passphrase: passphrase)
        let v = try BundleVerifier.verify(reader, expectedKey: expectedKey)
        let session = v.manifest.session
        if try read({ db in try db.queryOne("SELECT id FROM sessions WHERE id = ?", session) != nil }) {
            throw .badBundle(path: path, message: "session \(session) already exists in this store (remove it first, or keep the one you have)")
        }
        let key = try signingKey()
        let storeKey = key.publicKeyHex
        // A fleet store: the import's uploads are registered under a lease, so that a gc on
        // another host leaves them alone until the commit below names them.
        let lease = try HistoryError.wrap { () throws(StoreError) in try store.beginImport() }
        do throws(HistoryError) {
            // On one host, the store lock keeps gc from taking the import's files for leftovers.
            return try store.withSharedLock({ HistoryError.store($0) }) { () throws(HistoryError) in
                try importVerified(v, from: reader, path: path, session: session, key: key, lease: lease)
            }
        } catch {
            store.abandonImport(lease)
            throw error
        }
    }

    private func importVerified(_ v: BundleVerifier.Verified, from reader: BundleReader, path: String, session: String,
                                key: StoreKey, lease: WriterLease?) throws(HistoryError) -> BundleReport {
        let storeKey = key.publicKeyHex

        // The pack, onto the store's file system, then into packs/.
        let tmp = store.temporaryPath(".bundle-pack.tmp")
        var installed: [PackRow] = []
        do throws(HistoryError) {
            let fd: FileDescriptor
            do { fd = try FileDescriptor.open(tmp, .createExclusive, permissions: 0o444) } catch { throw .store(.io(error)) }
            defer { fd.close() }
            try reader.stream(BundleManifest.packEntry) { (offset, block) throws(HistoryError) in
                do throws(IOError) { try block.withRawBytes { (b) throws(IOError) in try fd.write(b, at: offset) } } catch { throw .store(.io(error)) }
            }
            installed = try HistoryError.wrap { () throws(StoreError) in try store.installPack(at: tmp, lease: lease) }
        } catch {
            try? FileSystem.remove(tmp)
            throw error
        }
        for (id, bytes) in v.imageManifests {
            try HistoryError.wrap { () throws(StoreError) in try store.writeManifest(bytes, id: id, lease: lease) }
        }

        let images: [ImageRecord] = v.imageManifests.compactMap { (id, bytes) -> ImageRecord? in
            guard let m = try? ImageManifest.decode(bytes, id: id) else { return nil }
            return ImageRecord(id: id, parentID: nil, size: m.imageSize, chunkSize: m.chunkSize, dataChunks: m.dataChunkCount,
                               dataBytes: m.dataBytes, newChunks: 0, newBytes: 0, source: "bundle:" + FileSystem.absolute(path), createdAt: Date())
        }
        let blobs: [(id: String, size: Int64, manifest: [UInt8])] = v.blobManifests.compactMap { (id, bytes) -> (id: String, size: Int64, manifest: [UInt8])? in
            guard let m = try? BlobManifest.decode(bytes, id: id) else { return nil }
            return (id, m.size, bytes)
        }
        try write { db in
            try Catalog.endImport(lease, db)
            try Catalog.insert(packs: installed, images: images, blobs: blobs, db)
            let labels = JSONValue.object(v.manifest.labels.mapValues { .string($0) }).canonicalString
            let headSigner: String? = v.manifest.headSigner == storeKey ? nil : v.manifest.headSigner
            try db.execute("""
                INSERT INTO sessions(id, created_at, labels, retention, head_size, head_chain, head_signature, head_signer)
                VALUES (?, ?, ?, NULL, ?, ?, ?, ?)
                """, session, v.manifest.created, labels, v.manifest.historySize,
                StoreKey.bytes(fromHex: v.manifest.historyChain)!, StoreKey.bytes(fromHex: v.manifest.headSignature)!, headSigner)
            var events: [[CatalogValue]] = [], tiles: [[CatalogValue]] = []
            var search: [SearchRow] = []
            var chain = HistoryHashing.genesis
            var tile: [MerkleTree.Hash] = []
            for (seq, body) in v.bodies.enumerated() {
                let event = HistoryEvent.decode(body: body)!
                let leaf = MerkleTree.leafHash(body)
                chain = HistoryHashing.chain(previous: chain, leaf: leaf)
                events.append([.text(session), .int(Int64(seq)), .int(event.time), .text(event.kind.rawValue), .blob(body), .blob(leaf), .blob(chain)])
                search.append(SearchRow(seq: Int64(seq), kind: event.kind.rawValue, text: SearchText.of(event.data)))
                tile.append(leaf)
                if tile.count == HistoryHashing.tileSize {
                    tiles.append([.text(session), .int(Int64(seq / HistoryHashing.tileSize)), .blob(MerkleTree.root(tile[...]))])
                    tile.removeAll(keepingCapacity: true)
                }
            }
            try Self.insertRows(db, into: "events(session_id, seq, time_ns, kind, body, leaf, chain)", events)
            try Self.insertRows(db, into: "merkle_tiles(session_id, tile, hash)", tiles)
            try Self.indexForSearch(db, session: session, search)
            // The store key accepts the bundle's other signers for this session only: a catalog
            // row naming a foreign key is believed only with this acceptance.
            for signer in Set([v.manifest.headSigner] + v.records.map(\.1)) where signer != storeKey {
                try Self.trustSigner(db, session: session, signer: signer, key: key)
            }
            for (c, signer) in v.records {
                let signerKey: String? = signer == storeKey ? nil : signer
                try db.execute("""
                    INSERT INTO checkpoints(id, session_id, parent_id, created_at, history_size, record, signature, signer_key)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, c.id, session, c.record.parent, Double(c.record.createdAt) / 1e9, c.record.historySize,
                    c.record.canonicalBytes, c.signature, signerKey)
                for (name, target) in c.record.images {
                    try db.execute("INSERT INTO checkpoint_refs(checkpoint_id, name, kind, target, owned) VALUES (?, ?, 'image', ?, 1)", c.id, name, target)
                }
                for (name, target) in c.record.blobs {
                    try db.execute("INSERT INTO checkpoint_refs(checkpoint_id, name, kind, target, owned) VALUES (?, ?, 'blob', ?, 1)", c.id, name, target)
                }
            }
        }
        return v.report
    }
}
