import CExt2fs

/// An ext2/3/4 disk image opened read-only through libext2fs, without mounting it.
///
/// The image file is never written. libext2fs does not replay the journal: for an image taken
/// from a running system (`needsRecovery` is true) the most recent changes may still sit in the
/// journal and be invisible here, exactly as for `debugfs`.
///
/// Not thread-safe (libext2fs handles are not): use one `Ext4Image` per task. The handle is closed
/// when the object is released.
public final class Ext4Image {
    /// The image file on the host, as given to `open`.
    public let path: String
    /// The file system's block size in bytes; block numbers in `Ext4Entry.blocks` are in this unit.
    public let blockSize: Int
    /// Blocks in the file system.
    public let blockCount: UInt64
    /// Inodes in the file system.
    public let inodeCount: UInt32
    /// The journal holds transactions that were not replayed (the image was taken while the file
    /// system was mounted, or after a crash); reads may miss the latest changes.
    public let needsRecovery: Bool

    let handle: OpaquePointer

    private init(path: String, handle: OpaquePointer) {
        self.path = path
        self.handle = handle
        self.blockSize = Int(stasis_ext2_block_size(handle))
        self.blockCount = stasis_ext2_blocks_count(handle)
        self.inodeCount = stasis_ext2_inodes_count(handle)
        self.needsRecovery = stasis_ext2_needs_recovery(handle) != 0
    }

    deinit {
        stasis_ext2_close(handle)
    }

    /// Opens the image at `path` read-only.
    /// - Throws: `Ext4Error` with operation `.open`; cause `.notExt4` when the superblock magic is
    ///   wrong, `.truncated` when the file is shorter than the file system its superblock
    ///   describes, `.system` when the file cannot be opened.
    public static func open(path: String) throws(Ext4Error) -> Ext4Image {
        var handle: OpaquePointer?
        let code = stasis_ext2_open(path, &handle)
        guard code == 0 else { throw Ext4Error(imagePath: path, operation: .open, code: code) }
        guard let handle else {
            throw Ext4Error(imagePath: path, operation: .open, cause: .other, code: 0,
                            detail: "libext2fs reported success without a handle")
        }
        let image = Ext4Image(path: path, handle: handle)
        // libext2fs reads lazily, so a truncated image would only fail later, at whichever block
        // is missing: check the length up front for a clear message.
        var available: UInt64 = 0
        let sizeCode = stasis_ext2_image_blocks(path, UInt32(image.blockSize), &available)
        if sizeCode == 0, available < image.blockCount {
            throw Ext4Error(imagePath: path, operation: .open, cause: .truncated, code: 0,
                            detail: "it holds \(available) blocks of \(image.blockSize) bytes but its superblock describes \(image.blockCount)")
        }
        return image
    }

    /// The number of the root directory's inode (2 on every ext2/3/4 file system).
    public static var rootInode: UInt32 { stasis_ext2_root_inode() }

    func readInode(_ inode: UInt32) throws(Ext4Error) -> stasis_ext2_inode_info {
        var info = stasis_ext2_inode_info()
        let code = stasis_ext2_read_inode(handle, inode, &info)
        guard code == 0 else { throw Ext4Error(imagePath: path, operation: .readInode(inode), code: code) }
        return info
    }
}
