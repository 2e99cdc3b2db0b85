import Foundation
import StasisCatalog
import StasisJSON
import StasisStore

extension SessionStore {
    /// Strings longer than this are kept as blobs in the chunk store; the event holds
    /// `{"$blob": id, "size": n}` (the id is the SHA-256 of the value, so the hash chain covers it).
    public static let inlineLimit = 4096

    /// Appends events to a session's history in one transaction: all get consecutive positions
    /// and are durable when this returns, or none is written. Returns their positions.
    @discardableResult
    public func append(_ sessionIDOrPrefix: String, _ inputs: [EventInput]) throws(HistoryError) -> Range<Int64> {
        let session = try resolveSession(sessionIDOrPrefix)
        return try append(resolved: session, inputs)
    }

    func append(resolved session: String, _ inputs: [EventInput]) throws(HistoryError) -> Range<Int64> {
        // Checked before large values go to the blob store, and again in the transaction (a
        // checkpoint may be removed in between).
        try read { db in try Self.checkNamedCheckpoints(db, session: session, inputs.map { ($0.kind, $0.data) }) }
        let prepared = try prepare(inputs)
        let key = try signingKey()
        return try write { db in
            try Self.checkNamedCheckpoints(db, session: session, prepared.map { ($0.kind, $0.data) })
            return try Self.insertEvents(db, session: session, prepared, key: key)
        }
    }

    /// `checkpoint` and `restore` events are the history's account of what Stasis did, so an
    /// appended one must name an existing checkpoint of this session (Stasis writes its own
    /// `checkpoint` events when it takes one). The one exception is the first event of a
    /// session forked from another session's checkpoint (`restore` without `intoSession`):
    /// a `restore` naming the checkpoint the session's `forked_from` and `checkpoint` labels
    /// name. Errors number the events from 1, in the order given.
    static func checkNamedCheckpoints(_ db: any CatalogConnection, session: String, _ events: [(kind: EventKind, data: [String: JSONValue])]) throws {
        guard events.contains(where: { $0.kind == .checkpoint || $0.kind == .restore }) else { return }
        let (size, _) = try lastPosition(db, session)
        var labels: [String: String]?
        for (i, event) in events.enumerated() where event.kind == .checkpoint || event.kind == .restore {
            let line = i + 1
            guard let id = event.data["checkpoint"]?.stringValue else {
                throw HistoryError.badEvent(line: line, message: "a \(event.kind.rawValue) event needs field \"checkpoint\" (a string)")
            }
            guard id.utf8.count == 64, id.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                throw HistoryError.badEvent(line: line, message: "field \"checkpoint\" of a \(event.kind.rawValue) event must be a full checkpoint id (64 lower-case hex digits)")
            }
            guard let owner = try db.queryOne("SELECT session_id FROM checkpoints WHERE id = ?", id)?.text("session_id") else {
                throw HistoryError.badEvent(line: line, message: "field \"checkpoint\" names \(id), which is no checkpoint of this store: a \(event.kind.rawValue) event must name an existing checkpoint of session \(session)")
            }
            if owner == session { continue }
            if event.kind == .restore, size + Int64(i) == 0 {
                if labels == nil {
                    let text = try db.queryOne("SELECT labels FROM sessions WHERE id = ?", session)?.text("labels") ?? "{}"
                    labels = (try? JSONValue.parse(text))?.objectValue?.compactMapValues(\.stringValue) ?? [:]
                }
                if labels?["forked_from"] == owner && labels?["checkpoint"] == id { continue }
            }
            throw HistoryError.badEvent(line: line, message: "field \"checkpoint\" names checkpoint \(id) of session \(owner), not of session \(session): a \(event.kind.rawValue) event must name a checkpoint of its own session")
        }
    }

    /// An event ready to be written: large values already moved to the blob store.
    struct PreparedEvent {
        var kind: EventKind
        var time: Int64
        var data: [String: JSONValue]
        /// What full-text search indexes; nil: taken from `data` (no value in the blob store).
        var searchText: String? = nil
        /// Always the current format, but for tests of stores written before it.
        var format = HistoryEvent.currentFormat
    }

    /// Moves large string values to the blob store (their own transactions; a blob that ends up
    /// unused is harmless) and fills in missing times.
    func prepare(_ inputs: [EventInput]) throws(HistoryError) -> [PreparedEvent] {
        var prepared: [PreparedEvent] = []
        prepared.reserveCapacity(inputs.count)
        let now = Self.nowNanoseconds()
        for input in inputs {
            var data = input.data
            var moved: [String: String] = [:]
            for (key, value) in data {
                if let s = value.stringValue, s.utf8.count > Self.inlineLimit {
                    let blob = try HistoryError.wrap { () throws(StoreError) in try store.putBlob(Array(s.utf8)) }
                    data[key] = ["$blob": .string(blob.id), "size": .int(blob.size)]
                    moved[key] = s
                }
            }
            // Indexed from the values as given, those moved to the blob store included.
            prepared.append(PreparedEvent(kind: input.kind, time: input.time ?? now, data: data,
                                          searchText: SearchText.of(input.data, resolved: moved)))
        }
        return prepared
    }

    /// Writes events at the end of a session's history, inside the caller's transaction.
    static func insertEvents(_ db: any CatalogConnection, session: String, _ prepared: [PreparedEvent], key: StoreKey) throws -> Range<Int64> {
        var (next, chain) = try lastPosition(db, session)
        let first = next
        var tileLeaves = try openTileLeaves(db, session, size: next)
        var events: [[CatalogValue]] = [], tiles: [[CatalogValue]] = []
        var search: [SearchRow] = []
        events.reserveCapacity(prepared.count)
        for (i, p) in prepared.enumerated() {
            let event = HistoryEvent(seq: next, time: p.time, kind: p.kind, data: p.data, format: p.format)
            let body: [UInt8]
            do { body = try event.encodedBody() } catch {
                throw HistoryError.badEvent(line: i + 1, message: "field \(error.description)")
            }
            let leaf = MerkleTree.leafHash(body)
            chain = HistoryHashing.chain(previous: chain, leaf: leaf)
            events.append([.text(session), .int(next), .int(p.time), .text(p.kind.rawValue), .blob(body), .blob(leaf), .blob(chain)])
            search.append(SearchRow(seq: next, kind: p.kind.rawValue, text: p.searchText ?? SearchText.of(p.data)))
            tileLeaves.append(leaf)
            if tileLeaves.count == HistoryHashing.tileSize {
                let tile = next / Int64(HistoryHashing.tileSize)
                tiles.append([.text(session), .int(tile), .blob(MerkleTree.root(tileLeaves[...]))])
                tileLeaves.removeAll(keepingCapacity: true)
            }
            next += 1
        }
        try insertRows(db, into: "events(session_id, seq, time_ns, kind, body, leaf, chain)", events)
        try insertRows(db, into: "merkle_tiles(session_id, tile, hash)", tiles)
        try indexForSearch(db, session: session, search)
        let signature = try key.sign(headMessage(session: session, size: next, chain: chain))
        try db.execute("UPDATE sessions SET head_size = ?, head_chain = ?, head_signature = ?, head_signer = NULL WHERE id = ?",
                       next, chain, signature, session)
        return first..<next
    }

    /// Rows per multi-row `INSERT`: each statement is a round trip to PostgreSQL, and 256 rows
    /// of a few columns stay far below both engines' limits on arguments per statement.
    static let rowsPerInsert = 256

    /// Inserts rows (each as many values as `tableAndColumns` names columns) inside the caller's
    /// transaction, `rowsPerInsert` per statement.
    static func insertRows(_ db: any CatalogConnection, into tableAndColumns: String, _ rows: [[CatalogValue]]) throws(CatalogError) {
        guard let width = rows.first?.count else { return }
        let row = "(" + Array(repeating: "?", count: width).joined(separator: ", ") + ")"
        var start = 0
        while start < rows.count {
            let batch = rows[start..<min(rows.count, start + rowsPerInsert)]
            try db.execute("INSERT INTO \(tableAndColumns) VALUES " + Array(repeating: row, count: batch.count).joined(separator: ", "),
                           batch.flatMap { $0 })
            start += batch.count
        }
    }

    /// What the store key signs after every append: the session, the history's size and the
    /// chain hash of its last event.
    static func headMessage(session: String, size: Int64, chain: [UInt8]) -> [UInt8] {
        Array("stasis-history-head-v1\n\(session)\n\(size)\n\(StoreKey.hex(chain))".utf8)
    }

    /// The next position and the chain hash before it.
    static func lastPosition(_ db: any CatalogConnection, _ session: String) throws -> (Int64, [UInt8]) {
        guard try db.queryOne("SELECT id FROM sessions WHERE id = ?", session) != nil else {
            throw HistoryError.sessionNotFound(session)
        }
        if let row = try db.queryOne("SELECT seq, chain FROM events WHERE session_id = ? ORDER BY seq DESC LIMIT 1", session) {
            return (try row.int("seq") + 1, try row.blob("chain"))
        }
        return (0, HistoryHashing.genesis)
    }

    /// Leaves of the tile that is not complete yet (so that the batch can complete it).
    static func openTileLeaves(_ db: any CatalogConnection, _ session: String, size: Int64) throws -> [MerkleTree.Hash] {
        let start = size - size % Int64(HistoryHashing.tileSize)
        guard start < size else { return [] }
        return try db.query("SELECT leaf FROM events WHERE session_id = ? AND seq >= ? AND seq < ? ORDER BY seq", session, start, size)
            .map { try $0.blob("leaf") }
    }

    public func historySize(_ session: String) throws(HistoryError) -> Int64 {
        try read { db in
            try db.queryOne("SELECT COALESCE(MAX(seq) + 1, 0) AS size FROM events WHERE session_id = ?", session)?.int("size") ?? 0
        }
    }
}
