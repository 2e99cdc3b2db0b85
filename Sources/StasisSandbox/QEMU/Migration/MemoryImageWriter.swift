import StasisIO

/// Builds the guest's memory image from pages that arrive in any order and may arrive more than
/// once (a page the guest wrote again is sent again; the last copy wins). Consecutive pages are
/// written together. A zero page is a hole: skipped where nothing was written, punched where an
/// earlier copy of the page was, so the image stays as sparse as the guest's memory.
final class MemoryImageWriter {
    static let pageSize = 4096
    private let file: FileDescriptor
    private let path: String
    let size: Int64
    private var written: [UInt64]
    private var run: [UInt8] = []
    private var runStart: Int64 = 0
    private let runLimit = 1 << 20
    private(set) var pagesWritten = 0

    /// Creates the image; `path` must not exist.
    init(path: String, size: Int64) throws(MigrationStreamError) {
        self.path = path
        self.size = size
        let opened: FileDescriptor
        do { opened = try FileDescriptor.open(path, .createExclusive, permissions: 0o600) } catch {
            throw .io("create \(path)", errno: error.errno.rawValue)
        }
        // `deinit` does not run for a half-initialised object: close the file here on failure.
        do { try opened.truncate(to: size) } catch {
            opened.close()
            throw .io("create \(path)", errno: error.errno.rawValue)
        }
        file = opened
        written = [UInt64](repeating: 0, count: Int((size / Int64(Self.pageSize) + 63) / 64))
        run.reserveCapacity(runLimit)
    }

    deinit { file.close() }

    func page<Bytes: Collection<UInt8>>(_ bytes: Bytes, at offset: Int64) throws(MigrationStreamError) {
        try checkBounds(offset)
        if offset != runStart + Int64(run.count) || run.count >= runLimit {
            try flush()
            runStart = offset
        }
        run.append(contentsOf: bytes)
        mark(offset)
        pagesWritten += 1
    }

    func zeroPage(at offset: Int64) throws(MigrationStreamError) {
        try checkBounds(offset)
        let index = Int(offset) / Self.pageSize
        guard written[index / 64] & (1 << UInt64(index % 64)) != 0 else { return }
        try flush()
        do { try file.punchHole(at: offset, length: Int64(Self.pageSize)) } catch {
            throw .io("punch a hole in \(path)", errno: error.errno.rawValue)
        }
    }

    func finish() throws(MigrationStreamError) {
        try flush()
    }

    private func flush() throws(MigrationStreamError) {
        guard !run.isEmpty else { return }
        let failure: IOError? = run.withUnsafeBytes { raw in
            do throws(IOError) { try file.write(raw, at: runStart); return nil } catch { return error }
        }
        if let failure { throw .io("write \(path)", errno: failure.errno.rawValue) }
        run.removeAll(keepingCapacity: true)
    }

    private func mark(_ offset: Int64) {
        let index = Int(offset) / Self.pageSize
        written[index / 64] |= 1 << UInt64(index % 64)
    }

    private func checkBounds(_ offset: Int64) throws(MigrationStreamError) {
        guard offset >= 0, offset % Int64(Self.pageSize) == 0, offset + Int64(Self.pageSize) <= size else {
            throw .malformed(offset: -1, "page at guest offset \(offset) lies outside the \(size)-byte memory")
        }
    }
}
