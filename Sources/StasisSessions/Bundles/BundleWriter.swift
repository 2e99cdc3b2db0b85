import Crypto
import Foundation
import StasisIO
import StasisStore

/// Writes a bundle: entries streamed one after the other, each hashed as it goes; the file is
/// written under a temporary name, fsynced and renamed, so a bundle appears complete or not at all.
/// With a seal (a passphrase), every entry after `bundle.seal` is encrypted in segments as it is
/// written (`BundleSeal`); digests and lengths are then those of the sealed bytes.
final class BundleWriter {
    let path: String
    private let tmpPath: String
    private let fd: FileDescriptor
    private var offset: Int64 = 0
    private var digests: [UInt8] = []
    private var count: UInt32 = 0
    // The open entry, if any.
    private var lengthOffset: Int64 = 0
    private var entryLength: Int64 = 0
    private var hasher = SHA256()
    private var buffer: [UInt8] = []
    private let seal: BundleSeal?
    // The open entry's sealing state: its name, nonce prefix, next segment and plain bytes not
    // yet sealed.
    private var entryName = ""
    private var prefix: [UInt8] = []
    private var segment: UInt32 = 0
    private var plain: [UInt8] = []

    init(path: String, seal: BundleSeal? = nil) throws(HistoryError) {
        self.path = path
        self.seal = seal
        let dir = FileSystem.parent(of: FileSystem.absolute(path))
        tmpPath = dir + "/." + (path.split(separator: "/").last.map(String.init) ?? "bundle") + ".tmp-" + SessionStore.newID().prefix(8)
        // A bundle holds guest memory and disks: private to the owner, whatever the umask.
        do { fd = try FileDescriptor.open(tmpPath, .createExclusive, permissions: StoreLayout.fileMode) } catch {
            throw .badArgument(field: "-o", message: error.description)
        }
        chmod(tmpPath, StoreLayout.fileMode)
        var header = BundleFormat.headerMagic
        let version = seal == nil ? BundleFormat.version : BundleFormat.sealedVersion
        withUnsafeBytes(of: version.littleEndian) { header.append(contentsOf: $0) }
        header.append(contentsOf: [0, 0, 0, 0, 0, 0])
        try emit(header)
        if let seal {
            try begin(BundleSeal.entryName, sealed: false)
            try writeStored(seal.json)
            try endStored()
        }
    }

    private func emit(_ bytes: [UInt8]) throws(HistoryError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 4 << 20 { try flush() }
    }

    private func flush() throws(HistoryError) {
        guard !buffer.isEmpty else { return }
        let at = offset
        do { try buffer.withRawBytes { (b) throws(IOError) in try fd.write(b, at: at) } } catch {
            throw .badArgument(field: "-o", message: error.description)
        }
        offset += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    func begin(_ name: String) throws(HistoryError) {
        try begin(name, sealed: seal != nil)
    }

    private func begin(_ name: String, sealed: Bool) throws(HistoryError) {
        precondition(BundleFormat.isValidName(name))
        let stored = sealed ? seal!.storedName(name) : name
        var head: [UInt8] = []
        withUnsafeBytes(of: UInt16(stored.utf8.count).littleEndian) { head.append(contentsOf: $0) }
        head.append(contentsOf: stored.utf8)
        try emit(head)
        lengthOffset = offset + Int64(buffer.count)
        try emit([UInt8](repeating: 0, count: 8))   // patched by `end`
        entryLength = 0
        hasher = SHA256()
        entryName = name
        segment = 0
        plain.removeAll(keepingCapacity: true)
        if sealed {
            var rng = SystemRandomNumberGenerator()
            prefix = (0..<BundleSeal.prefixSize).map { _ in rng.next() }
            try writeStored(prefix)
        } else {
            prefix = []
        }
    }

    /// Plain bytes of the open entry: sealed a segment at a time when the bundle is sealed.
    func write(_ bytes: UnsafeRawBufferPointer) throws(HistoryError) {
        guard let seal, !prefix.isEmpty else { return try writeStored(bytes) }
        plain.append(contentsOf: bytes)
        var start = 0
        while plain.count - start >= BundleSeal.segmentSize {
            let sealed = try seal.seal(plain[start..<start + BundleSeal.segmentSize], name: entryName, prefix: prefix, index: segment, final: false)
            try writeStored(sealed)
            segment += 1
            start += BundleSeal.segmentSize
        }
        plain.removeFirst(start)
    }

    /// Bytes as they are stored in the file (sealed or plain): hashed and counted as the entry's data.
    private func writeStored(_ bytes: [UInt8]) throws(HistoryError) {
        try bytes.withRawBytes { (b) throws(HistoryError) in try writeStored(b) }
    }

    private func writeStored(_ bytes: UnsafeRawBufferPointer) throws(HistoryError) {
        hasher.update(bufferPointer: bytes)
        entryLength += Int64(bytes.count)
        buffer.append(contentsOf: bytes)
        if buffer.count >= 4 << 20 { try flush() }
    }

    func write(_ bytes: [UInt8]) throws(HistoryError) {
        try bytes.withRawBytes { (b) throws(HistoryError) in try write(b) }
    }

    func end() throws(HistoryError) {
        if let seal, !prefix.isEmpty {
            try writeStored(try seal.seal(plain, name: entryName, prefix: prefix, index: segment, final: true))
            plain.removeAll(keepingCapacity: true)
        }
        try endStored()
    }

    private func endStored() throws(HistoryError) {
        let digest = Array(hasher.finalize())
        try emit(digest)
        digests.append(contentsOf: digest)
        count += 1
        try flush()
        var length: [UInt8] = []
        withUnsafeBytes(of: UInt64(entryLength).littleEndian) { length.append(contentsOf: $0) }
        let at = lengthOffset
        do { try length.withRawBytes { (b) throws(IOError) in try fd.write(b, at: at) } } catch {
            throw .badArgument(field: "-o", message: error.description)
        }
    }

    func add(_ name: String, _ bytes: [UInt8]) throws(HistoryError) {
        try begin(name)
        try write(bytes)
        try end()
    }

    func finish() throws(HistoryError) {
        var trailer = BundleFormat.trailerMagic
        withUnsafeBytes(of: count.littleEndian) { trailer.append(contentsOf: $0) }
        trailer.append(contentsOf: SHA256.hash(data: digests))
        try emit(trailer)
        try flush()
        do {
            try fd.sync()
            fd.close()
            try FileSystem.renameDurably(tmpPath, to: path)
        } catch {
            try? FileSystem.remove(tmpPath)
            throw .badArgument(field: "-o", message: error.description)
        }
    }

    func abandon() {
        fd.close()
        try? FileSystem.remove(tmpPath)
    }
}
