import StasisIO

/// Appends frames to pack files and seals them: table, trailer, fsync, atomic rename into
/// `packs/`. Sealed packs are durable but not yet *referenced*: only the catalog commit that lists
/// them makes them part of the store. Not thread-safe: the capture pipeline serialises appends.
final class PackWriter {
    /// A sealed pack's catalog row. Its table is in the file; a shared (PostgreSQL) catalog
    /// keeps a copy too (with its header), so that a host that starts cold builds its chunk
    /// index without reading every pack from object storage.
    struct Sealed: Sendable {
        var packID: String
        var size: Int64
        var chunkCount: Int
        var rawBytes: Int64
        var storedBytes: Int64
        var header: [UInt8]? = nil
        var storedTable: [UInt8]? = nil
    }


    private let layout: StoreLayout
    private let targetSize: Int
    private let cipher: StoreCipher?
    private let compression: FrameCompression
    private let header: PackFormat.Header
    private var current: (fd: FileDescriptor, id: String, tmpPath: String)?
    private var buffer: [UInt8] = []
    private var bufferStart: Int64 = 0
    private var written: Int64 = 0          // bytes of the current pack so far (incl. buffer)
    private var frames: [PackFrame] = []
    private var entries: [PackEntry] = []
    private var rawBytes: Int64 = 0
    private let writeBehind = WriteBehind(bufferCapacity: PackWriter.flushThreshold + (1 << 20))
    /// Frames of chunks appended one by one (gc, blobs, imports); captures seal their own.
    private lazy var builder = FrameBuilder(cipher: cipher, compression: compression)
    /// Packs complete on disk but not yet fsynced nor renamed into `packs/`: `finish` makes them
    /// durable together, so no worker ever waits for a disk flush in the middle of a capture.
    private var closed: [(fd: FileDescriptor, tmpPath: String, sealed: Sealed)] = []
    private(set) var sealed: [Sealed] = []

    private static let flushThreshold = 4 << 20

    init(layout: StoreLayout, cipher: StoreCipher?, compression: FrameCompression = .default, targetSize: Int = PackFormat.defaultTargetSize) {
        self.layout = layout
        self.cipher = cipher
        self.compression = compression
        self.header = PackFormat.Header(cipher: cipher)
        self.targetSize = targetSize
        buffer = writeBehind.emptyBuffer()
    }

    /// Appends one sealed frame.
    func append(_ frame: SealedFrame) throws(StoreError) {
        if current == nil { try open() }
        let index = frames.count
        frames.append(PackFrame(offset: written, storedLength: frame.stored.count, rawLength: frame.rawLength,
                                codec: frame.codec, nonce: frame.nonce))
        var inFrame = 0
        for chunk in frame.chunks {
            entries.append(PackEntry(id: chunk.id, frame: index, offsetInFrame: inFrame, rawLength: chunk.rawLength))
            inFrame += chunk.rawLength
        }
        buffer.append(contentsOf: frame.stored)
        written += Int64(frame.stored.count)
        rawBytes += Int64(frame.rawLength)
        if buffer.count >= Self.flushThreshold { try flush() }
        CrashPoint.hit("capture.chunk-written")
        if written >= Int64(targetSize) { try seal() }
    }

    /// Appends one chunk's raw bytes to this writer's own frame; the frame goes into the pack
    /// when full, or at `finish`.
    func append(id: ChunkID, raw: UnsafeRawBufferPointer) throws(StoreError) {
        if builder.wouldOverflow(adding: raw.count) { try append(builder.seal()) }
        builder.add(id, raw)
    }

    /// Seals the open pack, if any, makes every pack durable (fsync, rename into `packs/`, fsync
    /// of the directories) and returns them. Only then may a catalog commit reference them.
    func finish() throws(StoreError) -> [Sealed] {
        if !builder.isEmpty { try append(builder.seal()) }
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
                    try FileSystem.createDirectory(dir, permissions: StoreLayout.directoryMode)
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
        buffer.append(contentsOf: header.bytes)
        bufferStart = 0
        written = Int64(PackFormat.headerSize)
        frames.removeAll(keepingCapacity: true)
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
        let plain = PackIndex.encodeTable(frames: frames, entries: entries)
        let table = cipher.map { $0.sealWithNonce(plain, authenticating: PackIndex.tableAAD(header: header, packID: current.id)) } ?? plain
        let tableOffset = written
        buffer.append(contentsOf: table)
        buffer.append(contentsOf: PackIndex.trailer(header: header, tableOffset: tableOffset, storedTable: table))
        written += Int64(table.count + PackFormat.trailerSize)
        try flush()
        writeBehind.flushWhenWritten(current.fd)
        let storedBytes = frames.reduce(Int64(0)) { $0 + Int64($1.storedLength) }
        closed.append((current.fd, current.tmpPath, Sealed(packID: current.id, size: written, chunkCount: entries.count,
                                                           rawBytes: rawBytes, storedBytes: storedBytes,
                                                           header: header.bytes, storedTable: table)))
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

extension PackWriter.Sealed {
    /// The catalog row of a pack file found on disk (repair).
    init(index: PackIndex, size: Int64) {
        self.init(packID: index.packID, size: size, chunkCount: index.entries.count, rawBytes: index.rawBytes,
                  storedBytes: index.storedBytes, header: index.header.version == 1 ? nil : index.header.bytes,
                  storedTable: index.storedTable)
    }
}
