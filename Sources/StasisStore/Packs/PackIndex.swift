import Crypto
import Foundation
import StasisIO

/// A pack's table of contents: its header, frames and chunk entries, and the table exactly as
/// stored at the end of the pack file (sealed, in an encrypted pack) — which a shared catalog
/// also keeps, so that a host that starts cold builds its chunk index without reading every pack.
public struct PackIndex: Sendable {
    public var packID: String
    public var header: PackFormat.Header
    public var frames: [PackFrame]
    public var entries: [PackEntry]
    /// The table as stored in the file (after the frames, before the trailer).
    public var storedTable: [UInt8]

    /// Bytes of the frames together (what the file holds besides header, table and trailer).
    public var storedBytes: Int64 { frames.reduce(0) { $0 + Int64($1.storedLength) } }
    public var rawBytes: Int64 { entries.reduce(0) { $0 + Int64($1.rawLength) } }

    // MARK: Version 2 tables

    /// The plain version-2 table: u32 frames, u32 entries, the frame records, the entries.
    static func encodeTable(frames: [PackFrame], entries: [PackEntry]) -> [UInt8] {
        var w = LittleEndianWriter(capacity: 8 + frames.count * PackFormat.frameRecordSize + entries.count * PackFormat.entrySize)
        w.u32(UInt32(frames.count))
        w.u32(UInt32(entries.count))
        for f in frames {
            w.u32(UInt32(f.storedLength))
            w.u32(UInt32(f.rawLength))
            w.u8(f.codec.rawValue)
            w.zeros(3)
            w.u64(f.nonce.high)
            w.u32(f.nonce.low)
        }
        for e in entries {
            w.chunkID(e.id)
            w.u32(UInt32(e.rawLength))
            w.u32(UInt32(e.frame))
        }
        return w.bytes
    }

    /// What a sealed table is bound to: its pack's header and id, so that it cannot be moved
    /// to another pack or paired with another header.
    static func tableAAD(header: PackFormat.Header, packID: String) -> [UInt8] {
        header.bytes + Array(packID.utf8) + Array("table".utf8)
    }

    /// What a sealed frame is bound to: its codec and raw length (its nonce is in the sealed
    /// table, which binds it to its place).
    static func frameAAD(codec: FrameCodec, rawLength: Int) -> [UInt8] {
        var w = LittleEndianWriter(capacity: 17)
        w.raw(Array("stasis frame".utf8))
        w.u8(codec.rawValue)
        w.u32(UInt32(rawLength))
        return w.bytes
    }

    static func trailer(header: PackFormat.Header, tableOffset: Int64, storedTable: [UInt8]) -> [UInt8] {
        var w = LittleEndianWriter(capacity: PackFormat.trailerSize)
        w.u64(UInt64(tableOffset))
        w.u32(UInt32(header.version == 1 ? storedTable.count / PackFormat.v1EntrySize : storedTable.count))
        w.u16(header.version)
        w.u16(header.flags)
        w.raw(SHA256.hash(data: storedTable))
        w.ascii(PackFormat.trailerMagic)
        return w.bytes
    }

    // MARK: Decoding

    /// Decodes a stored table (opening it first when the pack is sealed), checking every rule of
    /// Formats/pack.md: frames tile the bytes from the header to `tableOffset` exactly, entries
    /// tile their frames exactly, lengths are possible.
    static func decode(packID: String, header: PackFormat.Header, storedTable: [UInt8], tableOffset: Int64,
                       cipher: StoreCipher?) throws(StoreError) -> PackIndex {
        if header.version == 1 {
            return try decodeV1(packID: packID, storedTable: storedTable, tableOffset: tableOffset)
        }
        var plain = storedTable
        if header.encrypted {
            guard let cipher else {
                throw .encryption(subject: "pack \(packID)", message: "the pack is encrypted but this store has no encryption keys: it comes from another store")
            }
            plain = try cipher.openWithNonce(storedTable, keyID: header.keyID, authenticating: tableAAD(header: header, packID: packID),
                                             subject: "pack \(packID)'s table")
        }
        func damaged(_ reason: String) -> StoreError { .corruptPack(pack: packID, reason: reason) }
        let result: Result<PackIndex, StoreError> = plain.withUnsafeBytes { raw in
            var r = LittleEndianReader(raw)
            do throws(LittleEndianReader.Truncated) {
                let frameCount = Int(try r.u32("frame count"))
                let entryCount = Int(try r.u32("entry count"))
                guard raw.count == 8 + frameCount * PackFormat.frameRecordSize + entryCount * PackFormat.entrySize else {
                    return .failure(damaged("its table is \(raw.count) bytes, not what \(frameCount) frames and \(entryCount) entries take"))
                }
                var frames: [PackFrame] = []
                frames.reserveCapacity(frameCount)
                var offset = Int64(PackFormat.headerSize)
                for i in 0..<frameCount {
                    let stored = Int(try r.u32("frame stored length"))
                    let rawLength = Int(try r.u32("frame raw length"))
                    let code = try r.u8("codec")
                    guard try r.raw(3, "reserved").allSatisfy({ $0 == 0 }) else { return .failure(damaged("frame \(i) has non-zero reserved bytes")) }
                    let nonce = SealNonce(high: try r.u64("nonce"), low: try r.u32("nonce"))
                    guard let codec = FrameCodec(rawValue: code) else { return .failure(damaged("frame \(i) has unknown codec \(code)")) }
                    let payload = stored - (header.encrypted ? StoreCipher.tagSize : 0)
                    guard rawLength > 0, rawLength <= PackFormat.maxFrameLength, payload > 0,
                          codec != .raw || payload == rawLength else {
                        return .failure(damaged("frame \(i) has impossible lengths (raw \(rawLength), stored \(stored))"))
                    }
                    guard header.encrypted || nonce == .zero else { return .failure(damaged("frame \(i) of a plain pack has a nonce")) }
                    frames.append(PackFrame(offset: offset, storedLength: stored, rawLength: rawLength, codec: codec, nonce: nonce))
                    offset += Int64(stored)
                }
                guard offset == tableOffset else {
                    return .failure(damaged("frames end at \(offset) but the table starts at \(tableOffset)"))
                }
                var entries: [PackEntry] = []
                entries.reserveCapacity(entryCount)
                var frame = 0, inFrame = 0
                for i in 0..<entryCount {
                    let id = try r.chunkID("chunk id")
                    let rawLength = Int(try r.u32("raw length"))
                    let f = Int(try r.u32("frame"))
                    guard rawLength > 0, rawLength <= PackFormat.maxChunkLength else {
                        return .failure(damaged("entry \(i) has impossible length \(rawLength)"))
                    }
                    if f != frame {
                        guard f == frame + 1, frame < frameCount, inFrame == frames[frame].rawLength else {
                            return .failure(damaged("entry \(i) is in frame \(f) before frame \(frame) is filled"))
                        }
                        frame = f; inFrame = 0
                    }
                    guard f < frameCount, inFrame + rawLength <= frames[f].rawLength else {
                        return .failure(damaged("entry \(i) does not fit in frame \(f)"))
                    }
                    entries.append(PackEntry(id: id, frame: f, offsetInFrame: inFrame, rawLength: rawLength))
                    inFrame += rawLength
                }
                guard frameCount == 0 ? entryCount == 0 : (frame == frameCount - 1 && inFrame == frames[frame].rawLength) else {
                    return .failure(damaged("its entries do not fill its \(frameCount) frames exactly"))
                }
                return .success(PackIndex(packID: packID, header: header, frames: frames, entries: entries, storedTable: storedTable))
            } catch {
                return .failure(damaged("its table is truncated at \(error.field)"))
            }
        }
        return try result.get()
    }

    /// Version 1: every chunk is a frame of its own, never sealed.
    private static func decodeV1(packID: String, storedTable: [UInt8], tableOffset: Int64) throws(StoreError) -> PackIndex {
        let size = PackFormat.v1EntrySize
        guard storedTable.count % size == 0 else {
            throw .corruptPack(pack: packID, reason: "entry table is \(storedTable.count) bytes, not a multiple of \(size)")
        }
        var frames: [PackFrame] = []
        var entries: [PackEntry] = []
        frames.reserveCapacity(storedTable.count / size)
        entries.reserveCapacity(storedTable.count / size)
        var offset = Int64(PackFormat.headerSize)
        let result: Result<Void, StoreError> = storedTable.withUnsafeBytes { raw in
            var r = LittleEndianReader(raw)
            do throws(LittleEndianReader.Truncated) {
                while r.remaining > 0 {
                    let id = try r.chunkID("chunk id")
                    let rawLength = Int(try r.u32("raw length"))
                    let storedLength = Int(try r.u32("stored length"))
                    let code = try r.u8("encoding")
                    guard try r.raw(3, "reserved").allSatisfy({ $0 == 0 }) else {
                        return .failure(.corruptPack(pack: packID, reason: "entry \(entries.count) has non-zero reserved bytes"))
                    }
                    // Version 1 knew raw and LZ4 only.
                    guard let codec = FrameCodec(rawValue: code), codec != .zstd else {
                        return .failure(.corruptPack(pack: packID, reason: "entry \(entries.count) has unknown encoding \(code)"))
                    }
                    guard rawLength > 0, rawLength <= PackFormat.maxChunkLength, storedLength > 0,
                          codec == .lz4 || storedLength == rawLength else {
                        return .failure(.corruptPack(pack: packID, reason: "entry \(entries.count) has impossible lengths (raw \(rawLength), stored \(storedLength))"))
                    }
                    entries.append(PackEntry(id: id, frame: frames.count, offsetInFrame: 0, rawLength: rawLength))
                    frames.append(PackFrame(offset: offset, storedLength: storedLength, rawLength: rawLength, codec: codec))
                    offset += Int64(storedLength)
                }
            } catch {
                return .failure(.corruptPack(pack: packID, reason: "entry table truncated at \(error.field)"))
            }
            return .success(())
        }
        try result.get()
        guard offset == tableOffset else {
            throw .corruptPack(pack: packID, reason: "payloads end at \(offset) but the entry table starts at \(tableOffset)")
        }
        return PackIndex(packID: packID, header: .v1, frames: frames, entries: entries, storedTable: storedTable)
    }

    /// Reads and checks a pack file's header, trailer and table, and decodes it.
    public static func read(packID: String, path: String, cipher: StoreCipher?) throws(StoreError) -> PackIndex {
        let stored = try readTable(packID: packID, path: path)
        return try decode(packID: packID, header: stored.header, storedTable: stored.table, tableOffset: stored.tableOffset, cipher: cipher)
    }

    /// A pack's header, stored table and where the table starts: checked, not decoded.
    struct StoredTable {
        var header: PackFormat.Header
        var table: [UInt8]
        var tableOffset: Int64
    }

    /// Reads and checks a pack file's header, trailer and table checksum, without decoding.
    static func readTable(packID: String, path: String) throws(StoreError) -> StoredTable {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, .readOnly) } catch {
            if error.errno == .noEntry { throw .missingPack(pack: packID) }
            throw .io(error)
        }
        defer { fd.close() }
        let size = try StoreError.wrap { () throws(IOError) in try fd.size() }
        return try readTable(packID: packID, size: size) { (offset, count) throws(StoreError) in
            var bytes = [UInt8](repeating: 0, count: count)
            try StoreError.wrap { () throws(IOError) in
                try bytes.withMutableRawBytes { (b) throws(IOError) in try fd.readExactly(into: b, at: offset) }
            }
            return bytes
        }
    }

    /// The same checks on a pack of `size` bytes read through `read(offset, count)` — a pack file,
    /// a download, or a pack embedded in another file (a bundle).
    static func readTable(packID: String, size: Int64, read: (Int64, Int) throws(StoreError) -> [UInt8]) throws(StoreError) -> StoredTable {
        guard size >= Int64(PackFormat.headerSize + PackFormat.trailerSize) else {
            throw .corruptPack(pack: packID, reason: "file is \(size) bytes, shorter than a header and trailer")
        }
        let header = try PackFormat.Header.parse(try read(0, PackFormat.headerSize), pack: packID)
        let trailer = try read(size - Int64(PackFormat.trailerSize), PackFormat.trailerSize)
        let parsed: (Int64, Int, UInt16, UInt16, [UInt8])? = trailer.withUnsafeBytes { raw in
            var r = LittleEndianReader(raw)
            guard let tableOffset = try? r.u64("table offset"), let count = try? r.u32("count"),
                  let version = try? r.u16("version"), let flags = try? r.u16("flags"),
                  let digest = try? r.raw(32, "digest"), (try? r.expect(PackFormat.trailerMagic, "magic")) == true else { return nil }
            return (Int64(tableOffset), Int(count), version, flags, Array(digest))
        }
        guard let (tableOffset, count, version, flags, digest) = parsed else {
            throw .corruptPack(pack: packID, reason: "trailer is missing or damaged (an unfinished or truncated pack)")
        }
        guard version == header.version, flags == header.flags else {
            throw .corruptPack(pack: packID, reason: "trailer says version \(version) flags \(flags), its header version \(header.version) flags \(header.flags)")
        }
        let tableLength = header.version == 1 ? Int64(count) * Int64(PackFormat.v1EntrySize) : Int64(count)
        guard tableOffset >= Int64(PackFormat.headerSize),
              tableOffset + tableLength + Int64(PackFormat.trailerSize) == size else {
            throw .corruptPack(pack: packID, reason: "trailer says a \(tableLength)-byte table at \(tableOffset), which does not fit a \(size)-byte file")
        }
        let table = try read(tableOffset, Int(tableLength))
        guard Array(SHA256.hash(data: table)) == digest else {
            throw .corruptPack(pack: packID, reason: "table checksum does not match")
        }
        return StoredTable(header: header, table: table, tableOffset: tableOffset)
    }
}
