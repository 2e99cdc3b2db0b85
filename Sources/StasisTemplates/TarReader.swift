import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One entry of a tar archive (POSIX ustar, with PAX extended headers and GNU long names, the
/// forms `docker save`, BuildKit and Python's tarfile write).
struct TarEntry: Sendable {
    enum Kind: Sendable, Equatable {
        case file, directory, symlink, hardlink, characterDevice, blockDevice, fifo
        case other(UInt8)
    }
    var path: String
    var kind: Kind
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var size: Int64
    var mtime: Int64
    var linkTarget: String
}

/// Reads a tar archive from a file, entry by entry, sequentially. A header whose checksum does
/// not add up, or an archive that ends inside an entry, is an error naming the entry; the two
/// zero blocks at the end are optional (some writers stop at the last entry).
final class TarReader {
    private let handle: FileHandle
    /// How the archive is named in errors (a layer digest, a file name).
    let name: String
    private var pendingSkip: Int64 = 0
    private var current: TarEntry?

    init(path: String, name: String) throws(TemplateError) {
        guard let h = FileHandle(forReadingAtPath: path) else { throw .io("open \(path)", errno == 0 ? ENOENT : errno) }
        handle = h
        self.name = name
    }

    deinit { try? handle.close() }

    private func read(_ count: Int) throws(TemplateError) -> [UInt8] {
        do { return [UInt8](try handle.read(upToCount: count) ?? Data()) } catch { throw .io("read layer \(name)", EIO) }
    }

    /// Skips what is left of the current entry's data and padding.
    private func skipRest() throws(TemplateError) {
        while pendingSkip > 0 {
            let n = Int(min(pendingSkip, 1 << 20))
            let got = try read(n)
            if got.count < n { throw .truncated(layer: name, entry: current?.path) }
            pendingSkip -= Int64(n)
        }
    }

    /// The next entry, or nil at the end of the archive. The entry's data must be read with
    /// `copyData(to:)` before the next call, or it is skipped.
    func next() throws(TemplateError) -> TarEntry? {
        try skipRest()
        var pax: [String: String] = [:]
        var longName: String?
        var longLink: String?
        while true {
            let header = try read(512)
            if header.isEmpty { return nil }
            if header.count < 512 { throw .truncated(layer: name, entry: nil) }
            if header.allSatisfy({ $0 == 0 }) { return nil }
            guard Self.checksumMatches(header) else {
                throw .badEntry(layer: name, entry: Self.string(header, 0, 100), message: "the tar header's checksum does not match (a corrupt or non-tar file)")
            }
            let type = header[156]
            var entryName = Self.string(header, 0, 100)
            if header[257..<262].elementsEqual(Array("ustar".utf8)) {
                let prefix = Self.string(header, 345, 155)
                if !prefix.isEmpty { entryName = prefix + "/" + entryName }
            }
            guard let size = Self.number(header, 124, 12) else {
                throw .badEntry(layer: name, entry: entryName, message: "the size field is not a number")
            }
            let padded = (size + 511) / 512 * 512
            switch type {
            case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
                guard size <= 1 << 20 else { throw .badEntry(layer: name, entry: entryName, message: "an extended header of \(size) bytes is too large") }
                let body = try read(Int(padded))
                if body.count < padded { throw .truncated(layer: name, entry: entryName) }
                let data = Array(body[0..<Int(size)])
                if type == UInt8(ascii: "x") {
                    pax.merge(try Self.paxRecords(data, entry: entryName, layer: name)) { $1 }
                } else if type == UInt8(ascii: "L") {
                    longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                } else if type == UInt8(ascii: "K") {
                    longLink = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                }
                continue
            default:
                break
            }
            var entry = TarEntry(
                path: pax["path"] ?? longName ?? entryName,
                kind: Self.kind(type),
                mode: UInt32(Self.number(header, 100, 8) ?? 0o644) & 0o7777,
                uid: UInt32(clamping: pax["uid"].flatMap { Int64($0) } ?? Self.number(header, 108, 8) ?? 0),
                gid: UInt32(clamping: pax["gid"].flatMap { Int64($0) } ?? Self.number(header, 116, 8) ?? 0),
                size: pax["size"].flatMap { Int64($0) } ?? size,
                mtime: pax["mtime"].flatMap { Double($0) }.map { Int64($0) } ?? Self.number(header, 136, 12) ?? 0,
                linkTarget: pax["linkpath"] ?? longLink ?? Self.string(header, 157, 100))
            // Regular files carry data; a hard link's size field is ignored; an unknown kind's
            // data is skipped (the entry is refused by whoever reads it).
            var dataSize = entry.size
            switch entry.kind {
            case .file, .other: break
            default: entry.size = 0; dataSize = 0
            }
            pendingSkip = (dataSize + 511) / 512 * 512
            current = entry
            return entry
        }
    }

    /// Writes the current entry's data to `fd` (and skips its padding).
    func copyData(to fd: Int32) throws(TemplateError) {
        guard let entry = current else { return }
        var left = entry.size
        while left > 0 {
            let n = Int(min(left, 1 << 20))
            let chunk = try read(n)
            if chunk.count < n { throw .truncated(layer: name, entry: entry.path) }
            let ok = chunk.withUnsafeBytes { buffer -> Bool in
                var off = 0
                while off < buffer.count {
                    let w = Glibc.write(fd, buffer.baseAddress! + off, buffer.count - off)
                    if w < 0 { if errno == EINTR { continue }; return false }
                    off += w
                }
                return true
            }
            guard ok else { throw .io("write '\(entry.path)' of layer \(name)", errno) }
            left -= Int64(n)
        }
        pendingSkip -= entry.size
    }

    private static func kind(_ type: UInt8) -> TarEntry.Kind {
        switch type {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): return .file
        case UInt8(ascii: "1"): return .hardlink
        case UInt8(ascii: "2"): return .symlink
        case UInt8(ascii: "3"): return .characterDevice
        case UInt8(ascii: "4"): return .blockDevice
        case UInt8(ascii: "5"): return .directory
        case UInt8(ascii: "6"): return .fifo
        default: return .other(type)
        }
    }

    private static func string(_ h: [UInt8], _ offset: Int, _ length: Int) -> String {
        String(decoding: h[offset..<offset + length].prefix { $0 != 0 }, as: UTF8.self)
    }

    /// An octal field, or GNU's base-256 form (high bit of the first byte set) for large values.
    private static func number(_ h: [UInt8], _ offset: Int, _ length: Int) -> Int64? {
        let field = h[offset..<offset + length]
        if let first = field.first, first & 0x80 != 0 {
            var v: Int64 = Int64(first & 0x7f)
            for b in field.dropFirst() { v = v << 8 | Int64(b) }
            return v
        }
        let text = String(decoding: field.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return 0 }
        return Int64(text, radix: 8)
    }

    private static func checksumMatches(_ h: [UInt8]) -> Bool {
        guard let stored = number(h, 148, 8) else { return false }
        var sum: Int64 = 0
        for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 32 : Int64(b) }
        return sum == stored
    }

    /// PAX records: "LEN key=value\n", LEN counting the whole record.
    private static func paxRecords(_ data: [UInt8], entry: String, layer: String) throws(TemplateError) -> [String: String] {
        var out: [String: String] = [:]
        var i = 0
        while i < data.count {
            guard let space = data[i...].firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: data[i..<space], as: UTF8.self)), length > 0, i + length <= data.count else {
                throw .badEntry(layer: layer, entry: entry, message: "a PAX extended header record is malformed")
            }
            let record = data[(space + 1)..<(i + length - 1)]
            if let eq = record.firstIndex(of: UInt8(ascii: "=")) {
                out[String(decoding: record[record.startIndex..<eq], as: UTF8.self)] = String(decoding: record[(eq + 1)...], as: UTF8.self)
            }
            i += length
        }
        return out
    }
}
