extension Ext4Image {
    /// Opens a regular file of this image for sequential reading. `entry` must come from this
    /// image's `walk()` (only its inode number and kind are used).
    public func openFile(_ entry: Ext4Entry) throws(Ext4Error) -> Ext4FileReader {
        guard entry.kind == .file else {
            throw Ext4Error(imagePath: path, operation: .notARegularFile(path: entry.path), cause: .invalidRequest,
                            code: 0, detail: "it is a \(entry.kind.rawValue), not a regular file")
        }
        return try Ext4FileReader(image: self, inode: entry.inode, path: entry.path)
    }

    /// The whole content of a regular file, for files of at most `maxBytes` bytes (stream larger
    /// ones with `forEachChunk`). The result is exactly `entry.size` bytes long.
    public func read(_ entry: Ext4Entry, maxBytes: Int = 64 << 20) throws(Ext4Error) -> [UInt8] {
        guard entry.size <= UInt64(max(maxBytes, 0)) else {
            throw Ext4Error(imagePath: path, operation: .limit, cause: .limitExceeded, code: 0,
                            detail: "'\(entry.path)' is \(entry.size) bytes, more than the \(maxBytes) allowed; use forEachChunk")
        }
        let reader = try openFile(entry)
        let bytes = try reader.read(upTo: Int(entry.size))
        guard bytes.count == Int(entry.size) else {
            throw Ext4Error(imagePath: path, operation: .readFile(path: entry.path, inode: entry.inode),
                            cause: .corrupt, code: 0,
                            detail: "read \(bytes.count) bytes of a file whose size is \(entry.size)")
        }
        return bytes
    }

    /// Streams a regular file in chunks of at most `chunkSize` bytes, in order (every chunk but the
    /// last is full). The buffer is only valid during the call. Suitable for hashing large files.
    public func forEachChunk(of entry: Ext4Entry, chunkSize: Int = 1 << 20,
                             _ body: (UnsafeRawBufferPointer) -> Void) throws(Ext4Error) {
        let reader = try openFile(entry)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunkSize, 1), alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try reader.read(into: buffer)
            if count == 0 { return }
            body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// Whether two regular files (this image's `entry` and `other`'s `otherEntry`) hold the same
    /// bytes, compared by streaming both.
    public func contentEquals(_ entry: Ext4Entry, _ otherEntry: Ext4Entry, in other: Ext4Image) throws(Ext4Error) -> Bool {
        guard entry.size == otherEntry.size else { return false }
        return try Self.sameBytes(openFile(entry), other.openFile(otherEntry))
    }

    /// Reads both readers to the end (or the first difference); true when the bytes are equal.
    static func sameBytes(_ mine: Ext4FileReader, _ theirs: Ext4FileReader) throws(Ext4Error) -> Bool {
        let chunk = 1 << 20
        while true {
            let a = try mine.read(upTo: chunk)
            let b = try theirs.read(upTo: chunk)
            if a != b { return false }
            if a.isEmpty { return true }
        }
    }
}
