import StasisIO

/// Appends chunks to pack files and seals them: entry table, trailer, fsync, atomic rename into
/// `packs/`. Sealed packs are durable but not yet *referenced*: only the catalog commit that lists
/// them makes them part of the store. Not thread-safe: the capture pipeline serialises appends.
final class PackWriter {
    /// A sealed pack's catalog row. Its entry table is in the file; a shared (PostgreSQL) catalog
    /// keeps a copy too, so that a host that starts cold builds its chunk index without reading
    /// every pack from object storage.
    struct Sealed: Sendable {
        var packID: String
        var size: Int64
        var chunkCount: Int
        var rawBytes: Int64
        var storedBytes: Int64
        var entryTable: [UInt8]? = nil
    }

    private let layout: StoreLayout
    private let targetSize: Int
    private var current: (fd: FileDescriptor, id: String, tmpPath: String)?
    private var buffer: [UInt8] = []
    private var bufferStart: Int64 = 0
    private var written: Int64 = 0          // bytes of the current pack so far (incl. buffer)
    private var entries: [PackEntry] = []
    private var rawBytes: Int64 = 0
    private let writeBehind = WriteBehind(bufferCapacity: PackWriter.flushThreshold + (1 << 20))
    /// Packs complete on disk but not yet fsynced nor renamed into `packs/`: `finish` makes them
    /// durable together, so no worker ever waits for a disk flush in the middle of a capture.
    private var closed: [(fd: FileDescriptor, tmpPath: String, sealed: Sealed)] = []
    private(set) var sealed: [Sealed] = []

    private static let flushThreshold = 4 << 20

    init(layout: StoreLayout, targetSize: Int = PackFormat.defaultTargetSize) {
        self.layout = layout
        self.targetSize = targetSize
        buffer = writeBehind.emptyBuffer()
    }

    /// Appends one chunk's stored bytes. Returns where it went (for lookups before the seal).
    @discardableResult
    func append(id: ChunkID, stored: UnsafeRawBufferPointer, rawLength: Int, encoding: ChunkEncoding) throws(StoreError) -> (packID: String, entry: PackEntry) {
        if current == nil { try open() }
        let entry = PackEntry(id: id, offset: written, rawLength: rawLength, storedLength: stored.count, encoding: encoding)
        buffer.append(contentsOf: stored)
        written += Int64(stored.count)
        rawBytes += Int64(rawLength)
        entries.append(entry)
        let packID = current!.id
        if buffer.count >= Self.flushThreshold { try flush() }
        CrashPoint.hit("capture.chunk-written")
        if written >= Int64(targetSize) { try seal() }
        return (packID, entry)
    }

    /// Seals the open pack, if any, makes every pack durable (fsync, rename into `packs/`, fsync
    /// of the directories) and returns them. Only then may a catalog commit reference them.
    func finish() throws(StoreError) -> [Sealed] {
        if current != nil { try seal() }
        try StoreError.wrap { () throws(IOError) in try writeBehind.drain() }
        CrashPoint.hit("pack.before-fsync")
        for pack in closed {
            try StoreError.wrap { () throws(IOError) in try pack.fd.sync() }
        }
        CrashPoint.hit("pack.before-rename")
        var directories = Set<String>()
        while let pack = closed.first {
            let id = pack.sealed.packID
            try StoreError.wrap { () throws(IOError) in
                let dir = layout.packDirectory(for: id)
                if !FileSystem.isDirectory(dir) {
                    try FileSystem.createDirectory(dir)
                    directories.insert(layout.packsDirectory + "/.")
                }
                try FileSystem.rename(pack.tmpPath, to: layout.packPath(for: id))
                directories.insert(layout.packPath(for: id))
            }
            pack.fd.close()
            closed.removeFirst()
            sealed.append(pack.sealed)
        }
        for path in directories.sorted() {
            try StoreError.wrap { () throws(IOError) in try FileSystem.syncDirectory(containing: path) }
        }
        CrashPoint.hit("pack.after-rename")
        return sealed
    }

    /// Removes the open pack and every pack this writer sealed (none of them is referenced).
    func abandon() {
        try? writeBehind.drain()   // no queued write may outlive its descriptor
        if let current {
            current.fd.close()
            try? FileSystem.remove(current.tmpPath)
            self.current = nil
        }
        for pack in closed {
            pack.fd.close()
            try? FileSystem.remove(pack.tmpPath)
        }
        closed.removeAll()
        for s in sealed { try? FileSystem.remove(layout.packPath(for: s.packID)) }
        sealed.removeAll()
    }

    private func open() throws(StoreError) {
        let id = PackWriter.newPackID()
        let tmpPath = layout.temporaryDirectory + "/" + id + ".pack.tmp"
        let fd = try StoreError.wrap { () throws(IOError) in try FileDescriptor.open(tmpPath, .createExclusive, permissions: 0o444) }
        current = (fd, id, tmpPath)
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: PackFormat.header)
        bufferStart = 0
        written = Int64(PackFormat.headerSize)
        entries.removeAll(keepingCapacity: true)
        rawBytes = 0
    }

    private func flush() throws(StoreError) {
        guard let current, !buffer.isEmpty else { return }
        let start = bufferStart
        bufferStart += Int64(buffer.count)
        let full = buffer
        buffer = writeBehind.emptyBuffer()
        try StoreError.wrap { () throws(IOError) in try writeBehind.submit(full, to: current.fd, at: start) }
    }

    private func seal() throws(StoreError) {
        guard let current else { return }
        let table = PackIndex.encode(entries)
        let entriesOffset = written
        buffer.append(contentsOf: table)
        buffer.append(contentsOf: PackIndex.trailer(entriesOffset: entriesOffset, encodedEntries: table))
        written += Int64(table.count + PackFormat.trailerSize)
        try flush()
        let storedBytes = entries.reduce(Int64(0)) { $0 + Int64($1.storedLength) }
        closed.append((current.fd, current.tmpPath, Sealed(packID: current.id, size: written, chunkCount: entries.count,
                                                           rawBytes: rawBytes, storedBytes: storedBytes, entryTable: table)))
        self.current = nil
    }

    /// 128 random bits as 32 hex digits. Pack names need only be unique; their contents are
    /// named by the chunk ids inside.
    static func newPackID() -> String {
        var g = SystemRandomNumberGenerator()
        let a = g.next() as UInt64, b = g.next() as UInt64
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(a) + hex(b)
    }
}
