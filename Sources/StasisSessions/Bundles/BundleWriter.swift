import Crypto
import Foundation
import StasisIO
import StasisStore

/// Writes a bundle: entries streamed one after the other, each hashed as it goes; the file is
/// written under a temporary name, fsynced and renamed, so a bundle appears complete or not at all.
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

    init(path: String) throws(HistoryError) {
        self.path = path
        let dir = FileSystem.parent(of: FileSystem.absolute(path))
        tmpPath = dir + "/." + (path.split(separator: "/").last.map(String.init) ?? "bundle") + ".tmp-" + SessionStore.newID().prefix(8)
        // A bundle holds guest memory and disks: private to the owner, whatever the umask.
        do { fd = try FileDescriptor.open(tmpPath, .createExclusive, permissions: StoreLayout.fileMode) } catch {
            throw .badArgument(field: "-o", message: error.description)
        }
        chmod(tmpPath, StoreLayout.fileMode)
        var header = BundleFormat.headerMagic
        withUnsafeBytes(of: BundleFormat.version.littleEndian) { header.append(contentsOf: $0) }
        header.append(contentsOf: [0, 0, 0, 0, 0, 0])
        try emit(header)
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
        precondition(BundleFormat.isValidName(name))
        var head: [UInt8] = []
        withUnsafeBytes(of: UInt16(name.utf8.count).littleEndian) { head.append(contentsOf: $0) }
        head.append(contentsOf: name.utf8)
        try emit(head)
        lengthOffset = offset + Int64(buffer.count)
        try emit([UInt8](repeating: 0, count: 8))   // patched by `end`
        entryLength = 0
        hasher = SHA256()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(HistoryError) {
        hasher.update(bufferPointer: bytes)
        entryLength += Int64(bytes.count)
        buffer.append(contentsOf: bytes)
        if buffer.count >= 4 << 20 { try flush() }
    }

    func write(_ bytes: [UInt8]) throws(HistoryError) {
        try bytes.withRawBytes { (b) throws(HistoryError) in try write(b) }
    }

    func end() throws(HistoryError) {
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
