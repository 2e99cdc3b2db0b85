import Crypto
import Foundation
import StasisIO
import StasisStore

/// Reads a bundle's table of entries and their bytes, checking every length and digest. Any
/// structural problem — truncation, a bad digest, a name that could escape, a duplicate — is a
/// `badBundle` error naming the entry or the byte offset. A sealed bundle (version 2) needs its
/// passphrase; its entries are then decrypted as they are read (`BundleSeal`), `order` holds
/// their stored names, and `bundle.seal` itself is not among them.
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
    private(set) var seal: BundleSeal?
    private var version: UInt16 = 0
    /// The plain bytes of the sealed segments decrypted last: readers go forward through the
    /// pack a chunk at a time, many chunks to a segment, and each segment is decrypted once.
    private var window: (name: String, start: Int64, bytes: [UInt8]) = ("", 0, [])
    private static let windowSegments: Int64 = 16

    init(path: String, passphrase: [UInt8]? = nil) throws(HistoryError) {
        self.path = path
        do { fd = try FileDescriptor.open(path, .readOnly) } catch {
            throw .badBundle(path: path, message: error.description)
        }
        // Every stored property is set by now, so a throw from here on runs `deinit`, which
        // closes the descriptor. Closing it here as well closed it twice: the second close hit
        // whatever file another thread had opened under the same number in between.
        try scan()
        guard version == BundleFormat.sealedVersion else { return }
        guard let passphrase else {
            throw .badArgument(field: "passphrase", message: "\(path) is an encrypted bundle: give its passphrase (--passphrase-file FILE, or STASIS_BUNDLE_PASSPHRASE)")
        }
        // `stored` looks the entry up by its stored name, which for the seal is its own name.
        seal = try BundleSeal.open(try stored(BundleSeal.entryName), passphrase: passphrase, path: path)
        order.removeAll { $0 == BundleSeal.entryName }
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
        version = UInt16(header[8]) | UInt16(header[9]) << 8
        guard version == BundleFormat.version || version == BundleFormat.sealedVersion else {
            throw bad("bundle format version \(version) is not one this stasis reads (1, or 2 encrypted); upgrade stasis")
        }
        // Flags and the reserved field are 0 in every bundle this stasis knows: a set bit is a
        // feature it would silently ignore (Formats/bundle.md).
        guard header[10..<16].allSatisfy({ $0 == 0 }) else {
            throw bad("its header sets flags or reserved bytes (\(StoreKey.hex(header[10..<16]))) that this stasis does not know; upgrade stasis")
        }
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

    /// The name an entry is stored under: in a sealed bundle a keyed hash of its name, so that
    /// the ids in names (checkpoints, images, blobs) are not readable without the passphrase.
    func storedName(_ name: String) -> String {
        guard let seal else { return name }
        if let known = storedNames[name] { return known }
        let stored = seal.storedName(name)
        storedNames[name] = stored
        return stored
    }
    private var storedNames: [String: String] = [:]

    /// An entry by its name (not its stored name).
    func entry(_ name: String) -> Entry? { entries[storedName(name)] }

    /// An entry's plain length.
    func length(_ name: String) throws(HistoryError) -> Int64 {
        guard let e = entry(name) else { throw bad("entry '\(name)' is missing") }
        guard seal != nil else { return e.length }
        guard let n = BundleSeal.plainLength(sealedLength: e.length) else { throw bad("entry '\(name)' is \(e.length) bytes, which no sealed entry is (truncated?)") }
        return n
    }

    /// An entry's bytes, checked against its digest and, in a sealed bundle, decrypted.
    func data(_ name: String) throws(HistoryError) -> [UInt8] {
        guard let seal else { return try stored(name) }
        let sealed = try stored(name)
        let n = try length(name)
        var out: [UInt8] = []
        out.reserveCapacity(Int(n))
        var at = BundleSeal.prefixSize
        let prefix = Array(sealed[0..<BundleSeal.prefixSize])
        var index: UInt32 = 0
        while true {
            let final = Int64(out.count) + Int64(BundleSeal.segmentSize) > n
            let size = (final ? Int(n) - out.count : BundleSeal.segmentSize) + BundleSeal.tagSize
            out += try seal.open(sealed[at..<at + size], name: name, prefix: prefix, index: index, final: final, path: path)
            at += size; index += 1
            if final { return out }
        }
    }

    /// An entry's bytes as stored, checked against its digest.
    private func stored(_ name: String) throws(HistoryError) -> [UInt8] {
        guard let e = entry(name) else { throw bad("entry '\(name)' is missing") }
        guard e.length <= 1 << 31 else { throw bad("entry '\(name)' is too large to read whole") }
        let bytes = try read(Int(e.length), at: e.offset)
        guard Array(SHA256.hash(data: bytes)) == e.digest else { throw bad("entry '\(name)' is damaged (its SHA-256 does not match)") }
        return bytes
    }

    /// Streams an entry in blocks, then checks its digest. A sealed entry's blocks are decrypted
    /// (each segment is authenticated before it is handed on), then its stored digest is checked.
    func stream(_ name: String, _ body: (Int64, [UInt8]) throws(HistoryError) -> Void) throws(HistoryError) {
        if seal != nil {
            let n = try length(name)
            var done: Int64 = 0
            repeat {
                let count = Int(min(Int64(128 * BundleSeal.segmentSize), n - done))
                try body(done, try read(name, offset: done, count: count))
                done += Int64(count)
            } while done < n
            return try checkDigest(name)
        }
        try streamStored(name, body)
    }

    /// Checks an entry's stored bytes against its digest, decrypting nothing.
    func checkDigest(_ name: String) throws(HistoryError) {
        try streamStored(name) { (_, _) throws(HistoryError) in }
    }

    private func streamStored(_ name: String, _ body: (Int64, [UInt8]) throws(HistoryError) -> Void) throws(HistoryError) {
        guard let e = entry(name) else { throw bad("entry '\(name)' is missing") }
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

    /// Reads `count` bytes at `offset` within an entry (no digest check: the caller checks content;
    /// in a sealed bundle each segment read is authenticated as it is decrypted).
    func read(_ name: String, offset: Int64, count: Int) throws(HistoryError) -> [UInt8] {
        let n = try length(name)
        guard let e = entry(name), offset >= 0, count >= 0, offset + Int64(count) <= n else { throw bad("a read past the end of entry '\(name)'") }
        guard let seal else { return try read(count, at: e.offset + offset) }
        if window.name == name, offset >= window.start, offset + Int64(count) <= window.start + Int64(window.bytes.count) {
            let from = Int(offset - window.start)
            return Array(window.bytes[from..<from + count])
        }
        let segment = Int64(BundleSeal.segmentSize), sealedSegment = segment + Int64(BundleSeal.tagSize)
        let prefix = try read(BundleSeal.prefixSize, at: e.offset)
        let finalIndex = n / segment   // the final segment holds n % segment bytes (maybe none)
        let first = offset / segment
        let last = min(finalIndex, max(first + Self.windowSegments - 1, (offset + Int64(count) - 1) / segment))
        let start = e.offset + Int64(BundleSeal.prefixSize) + first * sealedSegment
        let end = min(e.offset + e.length, e.offset + Int64(BundleSeal.prefixSize) + (last + 1) * sealedSegment)
        let sealed = try read(Int(end - start), at: start)
        var plain: [UInt8] = []
        plain.reserveCapacity(Int(last - first + 1) * BundleSeal.segmentSize)
        var at = 0
        for index in first...last {
            let size = (index == finalIndex ? Int(n % segment) : BundleSeal.segmentSize) + BundleSeal.tagSize
            plain += try seal.open(sealed[at..<at + size], name: name, prefix: prefix, index: UInt32(index), final: index == finalIndex, path: path)
            at += size
        }
        window = (name, first * segment, plain)
        let from = Int(offset - first * segment)
        return Array(plain[from..<from + count])
    }
}
