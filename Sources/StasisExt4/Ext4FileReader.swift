import CExt2fs

/// Sequential reader of one regular file inside an `Ext4Image`. Holes read as zeros; data stored
/// inside the inode (inline_data) is read too. Keeps its image open while it lives.
public final class Ext4FileReader {
    public let image: Ext4Image
    /// The file's path inside the image (for error messages).
    public let path: String
    public let inode: UInt32
    /// Bytes read so far.
    public private(set) var offset: UInt64 = 0

    private let file: OpaquePointer

    init(image: Ext4Image, inode: UInt32, path: String) throws(Ext4Error) {
        var file: OpaquePointer?
        let code = stasis_ext2_file_open(image.handle, inode, &file)
        guard code == 0, let file else {
            throw Ext4Error(imagePath: image.path, operation: .readFile(path: path, inode: inode), code: code)
        }
        self.image = image
        self.path = path
        self.inode = inode
        self.file = file
    }

    deinit {
        _ = stasis_ext2_file_close(file)
    }

    /// Fills `buffer` as far as the file goes; returns the number of bytes read, 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Ext4Error) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var total = 0
        while total < buffer.count {
            let wanted = UInt32(min(buffer.count - total, 1 << 30))
            var got: UInt32 = 0
            let code = stasis_ext2_file_read(file, base + total, wanted, &got)
            guard code == 0 else {
                throw Ext4Error(imagePath: image.path, operation: .readFile(path: path, inode: inode), code: code)
            }
            if got == 0 { break }
            total += Int(got)
        }
        offset += UInt64(total)
        return total
    }

    /// Reads up to `count` bytes; an empty array means end of file.
    public func read(upTo count: Int) throws(Ext4Error) -> [UInt8] {
        guard count > 0 else { return [] }
        var failure: Ext4Error?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(Ext4Error) {
                initialized = try read(into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }
}
