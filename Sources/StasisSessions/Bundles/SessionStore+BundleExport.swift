import Foundation
import StasisCatalog
import StasisJSON
import StasisStore

/// What `bundle export` wrote.
public struct BundleExportResult: Sendable, Codable {
    public var path: String
    public var session: String
    public var checkpoints: [String]
    public var events: Int64
    public var images: Int
    public var blobs: Int
    public var chunks: Int
    public var bytes: Int64
    /// Whether the bundle's entries are encrypted (a passphrase was given).
    public var encrypted: Bool
    /// What the user should know about the file written; empty when nothing.
    public var warnings: [String]
}

extension SessionStore {
    /// Writes one self-contained file with everything needed to verify and restore a session
    /// elsewhere: its history, its checkpoints (all, or one) with their signatures, the image and
    /// blob manifests they need, every chunk those name (in an embedded pack), and the public keys.
    /// With a passphrase every entry is encrypted (Formats/bundle.md, "Encrypted bundles").
    public func exportBundle(_ sessionIDOrPrefix: String, checkpoint: String? = nil, to path: String, passphrase: [UInt8]? = nil,
                             progress: any ProgressReporter = SilentProgress()) throws(HistoryError) -> BundleExportResult {
        let session = try resolveSession(sessionIDOrPrefix)
        if FileManager.default.fileExists(atPath: path) {
            throw .badArgument(field: "-o", message: "'\(path)' already exists: choose another file")
        }
        let storeKey = try HistoryError.wrap { () throws(StoreError) in try store.catalog.meta("public_key") } ?? ""
        var checkpoints = try self.checkpoints(session)
        if let checkpoint {
            let c = try self.checkpoint(checkpoint)
            guard c.record.session == session else {
                throw .badArgument(field: "--checkpoint", message: "checkpoint \(c.id) belongs to session \(c.record.session), not \(session)")
            }
            checkpoints = [c]
        }
        let head = try read { db -> (Double, String, Int64, [UInt8], [UInt8], String?) in
            guard let r = try db.queryOne("SELECT created_at, labels, head_size, head_chain, head_signature, head_signer FROM sessions WHERE id = ?", session) else {
                throw HistoryError.sessionNotFound(session)
            }
            return (try r.double("created_at"), try r.text("labels"), try r.int("head_size"), r.optionalBlob("head_chain") ?? HistoryHashing.genesis,
                    r.optionalBlob("head_signature") ?? [], r.optionalText("head_signer"))
        }
        let labels = (try? JSONValue.parse(head.1))?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        var headSignature = head.4
        if head.2 == 0 {
            // An empty history has no signed head yet: sign the genesis head now.
            headSignature = try signingKey().signHead(session: session, size: 0, chain: HistoryHashing.genesis)
        }

        let writer = try BundleWriter(path: path, seal: try passphrase.map { (p) throws(HistoryError) in try BundleSeal.create(passphrase: p) })
        do throws(HistoryError) {
            // History, streamed; remember blobs that events refer to.
            var eventBlobs = Set<String>()
            var count: Int64 = 0
            try writer.begin(BundleManifest.eventsEntry)
            try read { db in
                let marker = Array(#""$blob":""#.utf8)
                try db.forEachRow("SELECT body FROM events WHERE session_id = ? ORDER BY seq", [.text(session)]) { row in
                    let body = try row.blob("body")
                    var frame: [UInt8] = []
                    withUnsafeBytes(of: UInt32(body.count).littleEndian) { frame.append(contentsOf: $0) }
                    frame.append(contentsOf: body)
                    try writer.write(frame)
                    count += 1
                    if body.firstRange(of: marker) != nil, let event = HistoryEvent.decode(body: body) {
                        for v in event.data.values { if let id = v["$blob"]?.stringValue { eventBlobs.insert(id) } }
                    }
                }
            }
            try writer.end()

            // Checkpoints and what they hold.
            var images = Set<String>(), blobs = eventBlobs
            for c in checkpoints {
                try writer.add("checkpoints/\(c.id).record", c.record.canonicalBytes)
                try writer.add("checkpoints/\(c.id).sig", c.signature)
                images.formUnion(c.record.images.values)
                blobs.formUnion(c.record.blobs.values)
            }
            var chunks = Set<ChunkID>()
            for id in images.sorted() {
                let bytes = try HistoryError.wrap { () throws(StoreError) in try store.encodedManifest(of: id) }
                try writer.add("manifests/\(id).manifest", bytes)
                let manifest = try HistoryError.wrap { () throws(StoreError) in try ImageManifest.decode(bytes, id: id) }
                for case let c? in manifest.chunks { chunks.insert(c) }
            }
            for id in blobs.sorted() {
                let bytes = try HistoryError.wrap { () throws(StoreError) in try store.encodedBlobManifest(of: id) }
                try writer.add("blobs/\(id).blob-manifest", bytes)
                for e in try HistoryError.wrap({ () throws(StoreError) in try BlobManifest.decode(bytes, id: id) }).entries { chunks.insert(e.id) }
            }

            // Every chunk, verified on the way out, in one embedded pack.
            var encoder = PackEncoder()
            defer { encoder.deallocate() }
            try writer.begin(BundleManifest.packEntry)
            try writer.write(encoder.header)
            progress.begin("export", total: Int64(chunks.count))
            var failure: HistoryError?
            try HistoryError.wrap { () throws(StoreError) in
                try store.forEachChunk(chunks, context: "session \(session)") { (id, raw) throws(StoreError) in
                    guard failure == nil else { return }
                    do { try encoder.append(id: id, raw: raw) { bytes in try writer.write(bytes) } } catch { failure = error as? HistoryError }
                    progress.advance(by: 1)
                }
            }
            progress.end()
            if let failure { throw failure }
            try writer.write(encoder.footer())
            try writer.end()

            let manifest = BundleManifest(
                session: session, created: head.0, labels: labels, historySize: head.2, historyChain: StoreKey.hex(head.3),
                headSignature: StoreKey.hex(headSignature), headSigner: head.5 ?? storeKey,
                checkpoints: checkpoints.map { .init(id: $0.id, signer: $0.signerKey ?? storeKey) },
                images: images.sorted(), blobs: blobs.sorted(), exported: Self.nowNanoseconds())
            try writer.add("bundle.json", manifest.json.canonicalBytes)
            try writer.finish()
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
            var warnings: [String] = []
            if passphrase == nil, store.isEncrypted {
                // Not refused: scripts that move bundles inside a trusted boundary rely on plain
                // export. But what the store keeps sealed leaves it readable, and the user must know.
                warnings.append("the store is encrypted at rest but \(path) is not: it holds this session's guest memory, disks and history in plaintext; "
                                + "give a passphrase (--passphrase-file or STASIS_BUNDLE_PASSPHRASE) to encrypt it")
            }
            return BundleExportResult(path: path, session: session, checkpoints: checkpoints.map(\.id), events: count,
                                      images: images.count, blobs: blobs.count, chunks: chunks.count, bytes: size ?? 0,
                                      encrypted: passphrase != nil, warnings: warnings)
        } catch {
            writer.abandon()
            throw error
        }
    }
}

extension StoreKey {
    func signHead(session: String, size: Int64, chain: [UInt8]) throws(HistoryError) -> [UInt8] {
        try HistoryError.wrap { () throws(StoreError) in try sign(SessionStore.headMessage(session: session, size: size, chain: chain)) }
    }
}
