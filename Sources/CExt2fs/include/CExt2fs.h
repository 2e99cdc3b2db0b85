#ifndef STASIS_CEXT2FS_H
#define STASIS_CEXT2FS_H
// Plain-function wrappers around the parts of e2fsprogs' libext2fs that Swift needs to read an
// ext2/3/4 image without mounting it. <ext2fs/ext2fs.h> is only included by the .c file: it is
// macro- and inline-heavy, so Swift sees just the opaque handles and the fixed-size structs below.
// Link: -lext2fs -lcom_err (Debian package libext2fs-dev).
//
// Every function that can fail returns an errcode_t (a `long`): 0 on success, an errno value, or a
// com_err code from the ext2 error table. stasis_ext2_error_message turns one into text.
// None of these functions writes to the image: it is always opened read-only.
#include <stddef.h>
#include <stdint.h>

/// libext2fs' file-system handle (ext2_filsys); opaque to Swift.
typedef struct struct_ext2_filsys *stasis_ext2_fs;
/// libext2fs' open-file handle (ext2_file_t); opaque to Swift.
typedef struct ext2_file *stasis_ext2_file;

/// What kind of failure an error code stands for, so that Swift can word its message.
typedef enum {
    STASIS_EXT2_ERR_NONE = 0,
    STASIS_EXT2_ERR_NOT_EXT = 1,      ///< bad superblock magic: not an ext2/3/4 file system
    STASIS_EXT2_ERR_SHORT_READ = 2,   ///< the image ends before a block it refers to (truncated)
    STASIS_EXT2_ERR_UNSUPPORTED = 3,  ///< features or revision this libext2fs cannot read
    STASIS_EXT2_ERR_CORRUPT = 4,      ///< inconsistent metadata or a checksum mismatch
    STASIS_EXT2_ERR_SYSTEM = 5,       ///< an errno value (open, read, memory)
    STASIS_EXT2_ERR_OTHER = 6,
} stasis_ext2_error_class;

/// The fields of an inode that a file listing needs, already decoded (64-bit size, 32-bit ids,
/// mtime with the epoch bits of the large-inode extra field).
typedef struct {
    uint16_t mode;          ///< i_mode: type bits and permissions
    uint16_t links_count;
    uint32_t uid;
    uint32_t gid;
    uint32_t flags;         ///< i_flags
    uint64_t size;
    int64_t mtime_sec;
    uint32_t mtime_nsec;    ///< 0 when the inode has no extra timestamp field
    uint8_t has_inline_data;
} stasis_ext2_inode_info;

/// Called once per directory entry, "." and ".." included. `name` is not NUL-terminated and may
/// hold any bytes. Return 0 to go on, anything else to stop the iteration (not an error).
typedef int (*stasis_ext2_dirent_fn)(void *context, uint32_t inode, const char *name, int name_length);

/// Called once per run of physically contiguous data blocks, in logical order.
/// Return 0 to go on, anything else to stop the iteration (not an error).
typedef int (*stasis_ext2_extent_fn)(void *context, uint64_t first_block, uint64_t block_count);

/// Opens an image read-only (unix I/O manager, 64-bit block numbers). On success *out_fs must be
/// released with stasis_ext2_close.
long stasis_ext2_open(const char *path, stasis_ext2_fs *out_fs);
void stasis_ext2_close(stasis_ext2_fs fs);

/// How many whole blocks of `block_size` bytes the file (or block device) at `path` holds.
long stasis_ext2_image_blocks(const char *path, uint32_t block_size, uint64_t *out_blocks);

uint32_t stasis_ext2_block_size(stasis_ext2_fs fs);
uint64_t stasis_ext2_blocks_count(stasis_ext2_fs fs);
uint32_t stasis_ext2_inodes_count(stasis_ext2_fs fs);
/// 1 when the journal holds transactions that were not replayed (image of a live or crashed
/// system): libext2fs does not replay them, so recent changes may be missing from what it reads.
int stasis_ext2_needs_recovery(stasis_ext2_fs fs);
uint32_t stasis_ext2_root_inode(void);

long stasis_ext2_read_inode(stasis_ext2_fs fs, uint32_t inode, stasis_ext2_inode_info *out);

/// Iterates the live entries of a directory (block-mapped, extent-mapped or inline).
long stasis_ext2_dir_iterate(stasis_ext2_fs fs, uint32_t dir, stasis_ext2_dirent_fn fn, void *context);

/// Lists the physical data blocks of a file, merged into contiguous runs (holes skipped, mapping
/// metadata such as indirect and extent-index blocks left out). An inode with inline data has no
/// blocks. Block numbers outside the file system, or more blocks than the file system has, are
/// reported as corruption instead of being passed on.
long stasis_ext2_block_ranges(stasis_ext2_fs fs, uint32_t inode, stasis_ext2_extent_fn fn, void *context);

/// Reads a symbolic link's target (fast, slow or inline) into buf; *out_length is its length.
/// Fails with EXT2_ET_FILE_TOO_BIG when the target is longer than capacity.
long stasis_ext2_read_link(stasis_ext2_fs fs, uint32_t inode, char *buf, size_t capacity, size_t *out_length);

long stasis_ext2_file_open(stasis_ext2_fs fs, uint32_t inode, stasis_ext2_file *out_file);
/// Reads up to `wanted` bytes at the current position; *got == 0 at end of file.
/// Holes read as zeros.
long stasis_ext2_file_read(stasis_ext2_file file, void *buf, uint32_t wanted, uint32_t *got);
long stasis_ext2_file_close(stasis_ext2_file file);

/// The com_err message of an error code (the ext2 table is registered on first use). The text is
/// only valid until the next call for an unknown code: copy it at once.
const char *stasis_ext2_error_message(long code);
stasis_ext2_error_class stasis_ext2_error_classify(long code);
#endif
