import Crypto
import Foundation
import StasisIO

/// Reads a bundle's table of entries and their bytes, checking every length and digest. Any
/// structural problem — truncation, a bad digest, a name that could escape, a duplicate — is a
/// `badBundle` error naming the entry or the byte offset.
final class BundleReader {
    struct Entry {
        var name: String
        var offset: Int64
        var length: Int64
        var digest: [UInt8]
    }

    let path: String
    private let fd: FileDescriptor
    private(set) var entries: [String: Entry] = [:]
    private(set) var order: [String] = []

    init(path: String) throws(HistoryError) {
        self.path = path
        do { fd = try FileDescriptor.open(path, .readOnly) } catch {
            throw .badBundle(path: path, message: error.description)
        }
        // Every stored property is set by now, so a throw from here on runs `deinit`, which
        // closes the descriptor. Closing it here as well closed it twice: the second close hit
        // whatever file another thread had opened under the same number in between.
        try scan()
    }

    deinit { fd.close() }

    private func bad(_ message: String) -> HistoryError { .badBundle(path: path, message: message) }

    private func read(_ count: Int, at offset: Int64) throws(HistoryError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let n: Int
        do { n = try out.withMutableRawBytes { (b) throws(IOError) in try fd.read(into: b, at: offset) } } catch {
            throw bad(error.description)
        }
        guard n == count else { throw bad("it is truncated at byte \(offset + Int64(n)) (an incomplete copy?)") }
        return out
    }

    private func scan() throws(HistoryError) {
        let size: Int64
        do { size = try fd.size() } catch { throw bad(error.description) }
        guard size >= Int64(BundleFormat.headerSize + BundleFormat.trailerSize) else { throw bad("it is \(size) bytes, too short to be a bundle") }
        let header = try read(BundleFormat.headerSize, at: 0)
        guard Array(header[0..<8]) == BundleFormat.headerMagic else { throw bad("it is not a Stasis bundle (bad magic)") }
        let version = UInt16(header[8]) | UInt16(header[9]) << 8
        guard version == BundleFormat.version else { throw bad("bundle format version \(version) is not one this stasis reads (\(BundleFormat.version)); upgrade stasis") }
        var at = Int64(BundleFormat.headerSize)
        var digests: [UInt8] = []
        let end = size - Int64(BundleFormat.trailerSize)
        while at < end {
            let nameLength = Int(try read(2, at: at).withUnsafeBytes { UInt16(littleEndian: $0.loadUnaligned(as: UInt16.self)) })
            guard at + 2 + Int64(nameLength) + 8 <= end else { throw bad("it is truncated in the entry at byte \(at)") }
            let nameBytes = try read(nameLength, at: at + 2)
            guard let name = String(validating: nameBytes, as: UTF8.self), BundleFormat.isValidName(name) else {
                throw bad("entry name '\(String(decoding: nameBytes, as: UTF8.self))' at byte \(at) is not allowed (it could escape, or is malformed)")
            }
            guard entries[name] == nil else { throw bad("entry '\(name)' appears twice") }
            let length = try read(8, at: at + 2 + Int64(nameLength)).withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
            let dataAt = at + 2 + Int64(nameLength) + 8
            guard length >= 0, dataAt + length + 32 <= end else { throw bad("entry '\(name)' claims \(length) bytes, past the end of the file (truncated?)") }
            let digest = try read(32, at: dataAt + length)
            entries[name] = Entry(name: name, offset: dataAt, length: length, digest: digest)
            order.append(name)
            digests.append(contentsOf: digest)
            at = dataAt + length + 32
        }
        let trailer = try read(BundleFormat.trailerSize, at: end)
        guard Array(trailer[0..<8]) == BundleFormat.trailerMagic else { throw bad("its trailer is missing (truncated?)") }
        let count = trailer[8..<12].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        guard Int(count) == order.count, Array(trailer[12..<44]) == Array(SHA256.hash(data: digests)) else {
            throw bad("its trailer does not match its entries (entries were added, removed or altered)")
        }
    }

    /// An entry's bytes, checked against its digest.
    func data(_ name: String) throws(HistoryError) -> [UInt8] {
        guard let e = entries[name] else { throw bad("entry '\(name)' is missing") }
        guard e.length <= 1 << 31 else { throw bad("entry '\(name)' is too large to read whole") }
        let bytes = try read(Int(e.length), at: e.offset)
        guard Array(SHA256.hash(data: bytes)) == e.digest else { throw bad("entry '\(name)' is damaged (its SHA-256 does not match)") }
        return bytes
    }

    /// Streams an entry in blocks, then checks its digest.
    func stream(_ name: String, _ body: (Int64, [UInt8]) throws(HistoryError) -> Void) throws(HistoryError) {
        guard let e = entries[name] else { throw bad("entry '\(name)' is missing") }
        var hasher = SHA256()
        var done: Int64 = 0
        while done < e.length {
            let n = Int(min(Int64(8 << 20), e.length - done))
            let block = try read(n, at: e.offset + done)
            hasher.update(data: block)
            try body(done, block)
            done += Int64(n)
        }
        guard Array(hasher.finalize()) == e.digest else { throw bad("entry '\(name)' is damaged (its SHA-256 does not match)") }
    }

    /// Reads `count` bytes at `offset` within an entry (no digest check: the caller checks content).
    func read(_ name: String, offset: Int64, count: Int) throws(HistoryError) -> [UInt8] {
        guard let e = entries[name], offset >= 0, offset + Int64(count) <= e.length else { throw bad("a read past the end of entry '\(name)'") }
        return try read(count, at: e.offset + offset)
    }
}
