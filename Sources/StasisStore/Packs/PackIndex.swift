import Crypto
import Foundation
import StasisIO

/// A pack's table of contents: its entries, as kept at the end of the pack file and, byte for
/// byte, in the catalog (so that opening a store reads one row per pack, not one file per pack).
public struct PackIndex: Sendable {
    public var packID: String
    public var entries: [PackEntry]
    /// The encoded entries (44 bytes each), exactly as in the pack file.
    public var encodedEntries: [UInt8]

    /// Encodes entries in order; their offsets must be consecutive from the header.
    static func encode(_ entries: [PackEntry]) -> [UInt8] {
        var w = LittleEndianWriter(capacity: entries.count * PackFormat.entrySize)
        for e in entries {
            w.chunkID(e.id)
            w.u32(UInt32(e.rawLength))
            w.u32(UInt32(e.storedLength))
            w.u8(e.encoding.rawValue)
            w.zeros(3)
        }
        return w.bytes
    }

    static func trailer(entriesOffset: Int64, encodedEntries: [UInt8]) -> [UInt8] {
        var w = LittleEndianWriter(capacity: PackFormat.trailerSize)
        w.u64(UInt64(entriesOffset))
        w.u32(UInt32(encodedEntries.count / PackFormat.entrySize))
        w.u16(PackFormat.version)
        w.u16(0)
        w.raw(SHA256.hash(data: encodedEntries))
        w.ascii(PackFormat.trailerMagic)
        return w.bytes
    }

    /// Decodes encoded entries, recomputing offsets from the header on and checking that the
    /// payloads end exactly at `entriesOffset`.
    static func decode(packID: String, encodedEntries: [UInt8], entriesOffset: Int64) throws(StoreError) -> PackIndex {
        guard encodedEntries.count % PackFormat.entrySize == 0 else {
            throw .corruptPack(pack: packID, reason: "entry table is \(encodedEntries.count) bytes, not a multiple of \(PackFormat.entrySize)")
        }
        var entries: [PackEntry] = []
        entries.reserveCapacity(encodedEntries.count / PackFormat.entrySize)
        var offset = Int64(PackFormat.headerSize)
        let result: Result<Void, StoreError> = encodedEntries.withUnsafeBytes { raw in
            var r = LittleEndianReader(raw)
            do throws(LittleEndianReader.Truncated) {
                while r.remaining > 0 {
                    let id = try r.chunkID("chunk id")
                    let rawLength = Int(try r.u32("raw length"))
                    let storedLength = Int(try r.u32("stored length"))
                    let code = try r.u8("encoding")
                    let reserved = try r.raw(3, "reserved")
                    guard reserved.allSatisfy({ $0 == 0 }) else {
                        return .failure(.corruptPack(pack: packID, reason: "entry \(entries.count) has non-zero reserved bytes"))
                    }
                    guard let encoding = ChunkEncoding(rawValue: code) else {
                        return .failure(.corruptPack(pack: packID, reason: "entry \(entries.count) has unknown encoding \(code)"))
                    }
                    guard rawLength > 0, rawLength <= PackFormat.maxChunkLength, storedLength > 0,
                          encoding == .lz4 || storedLength == rawLength else {
                        return .failure(.corruptPack(pack: packID, reason: "entry \(entries.count) has impossible lengths (raw \(rawLength), stored \(storedLength))"))
                    }
                    entries.append(PackEntry(id: id, offset: offset, rawLength: rawLength, storedLength: storedLength, encoding: encoding))
                    offset += Int64(storedLength)
                }
            } catch {
                return .failure(.corruptPack(pack: packID, reason: "entry table truncated at \(error.field)"))
            }
            return .success(())
        }
        try result.get()
        guard offset == entriesOffset else {
            throw .corruptPack(pack: packID, reason: "payloads end at \(offset) but the entry table starts at \(entriesOffset)")
        }
        return PackIndex(packID: packID, entries: entries, encodedEntries: encodedEntries)
    }

    /// Reads and checks a pack file's header, trailer and entry table, and decodes the entries.
    public static func read(packID: String, path: String) throws(StoreError) -> PackIndex {
        let (table, entriesOffset) = try readTable(packID: packID, path: path)
        return try decode(packID: packID, encodedEntries: table, entriesOffset: entriesOffset)
    }

    /// Reads and checks a pack file's header, trailer and entry table (its checksum), without
    /// decoding the entries: what opening the chunk index needs.
    static func readTable(packID: String, path: String) throws(StoreError) -> (table: [UInt8], entriesOffset: Int64) {
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
    /// or a pack embedded in another file (a bundle).
    static func readTable(packID: String, size: Int64, read: (Int64, Int) throws(StoreError) -> [UInt8]) throws(StoreError) -> (table: [UInt8], entriesOffset: Int64) {
        guard size >= Int64(PackFormat.headerSize + PackFormat.trailerSize) else {
            throw .corruptPack(pack: packID, reason: "file is \(size) bytes, shorter than a header and trailer")
        }
        let header = try read(0, PackFormat.headerSize)
        let trailer = try read(size - Int64(PackFormat.trailerSize), PackFormat.trailerSize)
        guard header == PackFormat.header else {
            if Array(header.prefix(8)) == Array("STASPACK".utf8) {
                let version = UInt16(header[8]) | UInt16(header[9]) << 8
                throw .corruptPack(pack: packID, reason: "pack format version \(version) is newer than this stasis reads (\(PackFormat.version)); upgrade stasis")
            }
            throw .corruptPack(pack: packID, reason: "header is not a Stasis pack header")
        }
        let parsed: (Int64, Int, [UInt8])? = trailer.withUnsafeBytes { raw in
            var r = LittleEndianReader(raw)
            guard let entriesOffset = try? r.u64("entries offset"), let count = try? r.u32("count"),
                  let version = try? r.u16("version"), (try? r.u16("reserved")) == 0,
                  let digest = try? r.raw(32, "digest"), (try? r.expect(PackFormat.trailerMagic, "magic")) == true,
                  version == PackFormat.version else { return nil }
            return (Int64(entriesOffset), Int(count), Array(digest))
        }
        guard let (entriesOffset, count, digest) = parsed else {
            throw .corruptPack(pack: packID, reason: "trailer is missing or damaged (an unfinished or truncated pack)")
        }
        let tableLength = Int64(count) * Int64(PackFormat.entrySize)
        guard entriesOffset >= Int64(PackFormat.headerSize),
              entriesOffset + tableLength + Int64(PackFormat.trailerSize) == size else {
            throw .corruptPack(pack: packID, reason: "trailer says \(count) entries at \(entriesOffset), which does not fit a \(size)-byte file")
        }
        let table = try read(entriesOffset, Int(tableLength))
        guard Array(SHA256.hash(data: table)) == digest else {
            throw .corruptPack(pack: packID, reason: "entry table checksum does not match")
        }
        return (table, entriesOffset)
    }
}
