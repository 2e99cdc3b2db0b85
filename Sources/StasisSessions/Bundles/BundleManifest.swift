import StasisJSON

/// `bundle.json`: what a bundle holds (Formats/bundle.md).
struct BundleManifest {
    struct SignedCheckpoint { var id: String; var signer: String }

    var session: String
    var created: Double
    var labels: [String: String]
    var historySize: Int64
    var historyChain: String
    var headSignature: String
    var headSigner: String
    var checkpoints: [SignedCheckpoint]
    var images: [String]
    var blobs: [String]
    var exported: Int64

    static let packEntry = "packs/0.pack"
    static let eventsEntry = "history/events"

    var json: JSONValue {
        [
            "format": "stasis-bundle", "version": 1,
            "session": ["id": .string(session), "created": .double(created), "labels": .object(labels.mapValues { .string($0) })],
            "history": ["size": .int(historySize), "chain": .string(historyChain), "signature": .string(headSignature), "signer": .string(headSigner)],
            "checkpoints": .array(checkpoints.map { ["id": .string($0.id), "signer": .string($0.signer)] }),
            "images": .array(images.map { .string($0) }),
            "blobs": .array(blobs.map { .string($0) }),
            "exported": .int(exported),
        ]
    }

    init(session: String, created: Double, labels: [String: String], historySize: Int64, historyChain: String,
         headSignature: String, headSigner: String, checkpoints: [SignedCheckpoint], images: [String], blobs: [String], exported: Int64) {
        self.session = session; self.created = created; self.labels = labels; self.historySize = historySize
        self.historyChain = historyChain; self.headSignature = headSignature; self.headSigner = headSigner
        self.checkpoints = checkpoints; self.images = images; self.blobs = blobs; self.exported = exported
    }

    /// Parses and checks the shape; every id must be lower-case hex of the right length.
    init(_ bytes: [UInt8], path: String) throws(HistoryError) {
        func bad(_ m: String) -> HistoryError { .badBundle(path: path, message: "bundle.json: \(m)") }
        guard let v = try? JSONValue.parse(bytes), let o = v.objectValue else { throw bad("not a JSON object") }
        guard o["format"]?.stringValue == "stasis-bundle" else { throw bad("not a Stasis bundle manifest") }
        guard o["version"]?.intValue == 1 else { throw bad("version \(o["version"]?.canonicalString ?? "?") is not one this stasis reads; upgrade stasis") }
        func hex(_ value: JSONValue?, _ length: Int, _ field: String) throws(HistoryError) -> String {
            guard let s = value?.stringValue, s.count == length, s.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw bad("field \(field) must be \(length) lower-case hex digits")
            }
            return s
        }
        guard let s = o["session"]?.objectValue, let h = o["history"]?.objectValue else { throw bad("missing session or history") }
        session = try hex(s["id"], 32, "session.id")
        created = s["created"]?.doubleValue ?? 0
        labels = s["labels"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        guard let size = h["size"]?.intValue, size >= 0 else { throw bad("history.size must be a count") }
        historySize = size
        historyChain = try hex(h["chain"], 64, "history.chain")
        headSignature = try hex(h["signature"], 128, "history.signature")
        headSigner = try hex(h["signer"], 64, "history.signer")
        var cps: [SignedCheckpoint] = []
        for c in o["checkpoints"]?.arrayValue ?? [] {
            cps.append(SignedCheckpoint(id: try hex(c["id"], 64, "checkpoints[].id"), signer: try hex(c["signer"], 64, "checkpoints[].signer")))
        }
        checkpoints = cps
        var imgs: [String] = []
        for i in o["images"]?.arrayValue ?? [] { imgs.append(try hex(i, 64, "images[]")) }
        images = imgs
        var bls: [String] = []
        for b in o["blobs"]?.arrayValue ?? [] { bls.append(try hex(b, 64, "blobs[]")) }
        blobs = bls
        exported = o["exported"]?.intValue ?? 0
    }
}
