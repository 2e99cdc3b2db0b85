#include "CExt2fs.h"
#include <ext2fs/ext2fs.h>
#include <et/com_err.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// The ext2 error table must be registered once for error_message() to know its codes.
static pthread_once_t error_table_once = PTHREAD_ONCE_INIT;
static void register_error_table(void) { initialize_ext2_error_table(); }

long stasis_ext2_open(const char *path, stasis_ext2_fs *out_fs) {
    pthread_once(&error_table_once, register_error_table);
    *out_fs = NULL;
    ext2_filsys fs = NULL;
    // No EXT2_FLAG_RW: read-only. EXT2_FLAG_64BITS: block numbers above 2^32 on big images.
    errcode_t err = ext2fs_open(path, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
    if (err) return err;
    *out_fs = fs;
    return 0;
}

void stasis_ext2_close(stasis_ext2_fs fs) {
    if (fs) (void)ext2fs_close_free(&fs);
}

long stasis_ext2_image_blocks(const char *path, uint32_t block_size, uint64_t *out_blocks) {
    blk64_t blocks = 0;
    errcode_t err = ext2fs_get_device_size2(path, (int)block_size, &blocks);
    *out_blocks = err ? 0 : blocks;
    return err;
}

uint32_t stasis_ext2_block_size(stasis_ext2_fs fs) { return fs->blocksize; }
uint64_t stasis_ext2_blocks_count(stasis_ext2_fs fs) { return ext2fs_blocks_count(fs->super); }
uint32_t stasis_ext2_inodes_count(stasis_ext2_fs fs) { return fs->super->s_inodes_count; }
int stasis_ext2_needs_recovery(stasis_ext2_fs fs) { return ext2fs_has_feature_journal_needs_recovery(fs->super) ? 1 : 0; }
uint32_t stasis_ext2_root_inode(void) { return EXT2_ROOT_INO; }

long stasis_ext2_read_inode(stasis_ext2_fs fs, uint32_t ino, stasis_ext2_inode_info *out) {
    struct ext2_inode_large inode;
    memset(&inode, 0, sizeof inode);
    memset(out, 0, sizeof *out);
    errcode_t err = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)&inode, sizeof inode);
    if (err) return err;
    out->mode = inode.i_mode;
    out->links_count = inode.i_links_count;
    out->uid = inode_uid(inode);
    out->gid = inode_gid(inode);
    out->flags = inode.i_flags;
    out->size = EXT2_I_SIZE(&inode);
    out->has_inline_data = (inode.i_flags & EXT4_INLINE_DATA_FL) ? 1 : 0;
    // Seconds are a signed 32-bit value; large inodes add 2 epoch bits and nanoseconds in
    // i_mtime_extra (nsec << 2 | epoch), when i_extra_isize says that field is present.
    int64_t seconds = (int32_t)inode.i_mtime;
    const size_t extra_end = offsetof(struct ext2_inode_large, i_mtime_extra) + sizeof inode.i_mtime_extra;
    if (EXT2_INODE_SIZE(fs->super) > EXT2_GOOD_OLD_INODE_SIZE &&
        EXT2_GOOD_OLD_INODE_SIZE + (size_t)inode.i_extra_isize >= extra_end) {
        uint32_t extra = inode.i_mtime_extra;
        seconds += (int64_t)(extra & 3u) << 32;
        out->mtime_nsec = extra >> 2;
        if (out->mtime_nsec > 999999999u) out->mtime_nsec = 0;  // garbage: ignore
    }
    out->mtime_sec = seconds;
    return 0;
}

struct dir_context {
    stasis_ext2_dirent_fn fn;
    void *context;
};

static int dir_callback(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
                        int offset, int blocksize, char *buf, void *priv) {
    (void)dir; (void)entry; (void)offset; (void)blocksize; (void)buf;
    struct dir_context *c = priv;
    // libext2fs has already checked rec_len and that the name fits inside the record.
    int length = ext2fs_dirent_name_len(dirent);
    return c->fn(c->context, dirent->inode, dirent->name, length) != 0 ? DIRENT_ABORT : 0;
}

long stasis_ext2_dir_iterate(stasis_ext2_fs fs, uint32_t dir, stasis_ext2_dirent_fn fn, void *context) {
    struct dir_context c = { fn, context };
    // Flags 0: skip deleted and empty slots. Directories stored inline in the inode are visited
    // too: dir_iterate2 falls back to the inline iterator by itself. (DIRENT_FLAG_INCLUDE_INLINE_DATA
    // is that iterator's internal mode; passing it for a block directory makes every block look
    // corrupted.)
    return ext2fs_dir_iterate2(fs, dir, 0, NULL, dir_callback, &c);
}

struct block_context {
    stasis_ext2_extent_fn fn;
    void *context;
    uint64_t first_valid, end_valid;  // [first_data_block, blocks_count)
    uint64_t seen;                    // blocks visited, bounded by the file system's size
    uint64_t run_start, run_count;
    errcode_t err;
    int stopped;
};

static int block_callback(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
                          blk64_t ref_block, int ref_offset, void *priv) {
    (void)fs; (void)ref_block; (void)ref_offset;
    struct block_context *c = priv;
    if (blockcnt < 0) return 0;  // mapping metadata (not sent with BLOCK_FLAG_DATA_ONLY anyway)
    uint64_t b = *blocknr;
    if (b < c->first_valid || b >= c->end_valid) {
        c->err = EXT2_ET_BAD_BLOCK_NUM;
        return BLOCK_ABORT;
    }
    // Overlapping or repeated extents in a hostile image could otherwise make this loop
    // (nearly) endless: a file cannot own more blocks than the file system has.
    if (++c->seen > c->end_valid) {
        c->err = EXT2_ET_FILESYSTEM_CORRUPTED;
        return BLOCK_ABORT;
    }
    if (c->run_count > 0 && b == c->run_start + c->run_count) {
        c->run_count++;
        return 0;
    }
    if (c->run_count > 0 && c->fn(c->context, c->run_start, c->run_count) != 0) {
        c->stopped = 1;
        return BLOCK_ABORT;
    }
    c->run_start = b;
    c->run_count = 1;
    return 0;
}

long stasis_ext2_block_ranges(stasis_ext2_fs fs, uint32_t ino, stasis_ext2_extent_fn fn, void *context) {
    struct ext2_inode inode;
    errcode_t err = ext2fs_read_inode(fs, ino, &inode);
    if (err) return err;
    if (inode.i_flags & EXT4_INLINE_DATA_FL) return 0;  // data lives in the inode itself
    if (inode.i_flags & EXT4_EXTENTS_FL) {
        // block_iterate3 returns 0 (an empty file!) when the extent tree's root cannot be opened,
        // e.g. a bad header magic: open it here first so that such damage is reported.
        ext2_extent_handle_t extents = NULL;
        err = ext2fs_extent_open2(fs, ino, &inode, &extents);
        if (err) return err;
        ext2fs_extent_free(extents);
    }
    struct block_context c;
    memset(&c, 0, sizeof c);
    c.fn = fn;
    c.context = context;
    c.first_valid = fs->super->s_first_data_block;
    c.end_valid = ext2fs_blocks_count(fs->super);
    err = ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY | BLOCK_FLAG_DATA_ONLY, NULL, block_callback, &c);
    if (err == EXT2_ET_INLINE_DATA_CANT_ITERATE) return 0;
    if (err) return err;
    if (c.err) return c.err;
    if (!c.stopped && c.run_count > 0) (void)fn(context, c.run_start, c.run_count);
    return 0;
}

long stasis_ext2_read_link(stasis_ext2_fs fs, uint32_t ino, char *buf, size_t capacity, size_t *out_length) {
    *out_length = 0;
    struct ext2_inode inode;
    errcode_t err = ext2fs_read_inode(fs, ino, &inode);
    if (err) return err;
    if (!LINUX_S_ISLNK(inode.i_mode)) return EINVAL;
    uint64_t size = EXT2_I_SIZE(&inode);
    if (size > capacity) return EXT2_ET_FILE_TOO_BIG;

    if (inode.i_flags & EXT4_INLINE_DATA_FL) {
        size_t inline_size = 0;
        err = ext2fs_inline_data_size(fs, ino, &inline_size);
        if (err) return err;
        // inline_data_get copies all of the inline area (i_block plus the xattr part).
        char *tmp = malloc(inline_size > 0 ? inline_size : 1);
        if (!tmp) return ENOMEM;
        size_t got = inline_size;
        err = ext2fs_inline_data_get(fs, ino, &inode, tmp, &got);
        if (!err) {
            size_t n = got < size ? got : (size_t)size;
            memcpy(buf, tmp, n);
            *out_length = n;
        }
        free(tmp);
        return err;
    }
    if (ext2fs_is_fast_symlink(&inode)) {  // target stored in i_block (under 60 bytes)
        memcpy(buf, (const char *)inode.i_block, (size_t)size);
        *out_length = (size_t)size;
        return 0;
    }
    ext2_file_t file = NULL;
    err = ext2fs_file_open2(fs, ino, &inode, 0, &file);
    if (err) return err;
    size_t total = 0;
    while (total < size) {
        unsigned int got = 0;
        err = ext2fs_file_read(file, buf + total, (unsigned int)(size - total), &got);
        if (err || got == 0) break;
        total += got;
    }
    errcode_t close_err = ext2fs_file_close(file);
    if (err) return err;
    if (close_err) return close_err;
    *out_length = total;
    return 0;
}

long stasis_ext2_file_open(stasis_ext2_fs fs, uint32_t ino, stasis_ext2_file *out_file) {
    *out_file = NULL;
    ext2_file_t file = NULL;
    errcode_t err = ext2fs_file_open(fs, ino, 0, &file);  // flags 0: read-only
    if (err) return err;
    *out_file = file;
    return 0;
}

long stasis_ext2_file_read(stasis_ext2_file file, void *buf, uint32_t wanted, uint32_t *got) {
    unsigned int n = 0;
    errcode_t err = ext2fs_file_read(file, buf, wanted, &n);
    *got = n;
    return err;
}

long stasis_ext2_file_close(stasis_ext2_file file) {
    return file ? ext2fs_file_close(file) : 0;
}

const char *stasis_ext2_error_message(long code) {
    pthread_once(&error_table_once, register_error_table);
    return error_message(code);
}

stasis_ext2_error_class stasis_ext2_error_classify(long code) {
    switch (code) {
    case 0:
        return STASIS_EXT2_ERR_NONE;
    case EXT2_ET_BAD_MAGIC:
        return STASIS_EXT2_ERR_NOT_EXT;
    case EXT2_ET_SHORT_READ:
        return STASIS_EXT2_ERR_SHORT_READ;
    case EXT2_ET_UNSUPP_FEATURE: case EXT2_ET_RO_UNSUPP_FEATURE: case EXT2_ET_REV_TOO_HIGH:
    case EXT2_ET_UNEXPECTED_BLOCK_SIZE: case EXT2_ET_EXTENT_NOT_SUPPORTED: case EXT2_ET_UNKNOWN_CSUM:
    case EXT2_ET_DIRHASH_UNSUPP:
        return STASIS_EXT2_ERR_UNSUPPORTED;
    case EXT2_ET_NO_MEMORY:
        return STASIS_EXT2_ERR_SYSTEM;
    case EXT2_ET_GDESC_READ: case EXT2_ET_GDESC_BAD_BLOCK_MAP: case EXT2_ET_GDESC_BAD_INODE_MAP:
    case EXT2_ET_GDESC_BAD_INODE_TABLE: case EXT2_ET_INODE_TABLE_READ: case EXT2_ET_DIR_CORRUPTED:
    case EXT2_ET_BAD_INODE_NUM: case EXT2_ET_BAD_BLOCK_NUM: case EXT2_ET_TOOSMALL:
    case EXT2_ET_BAD_IND_BLOCK: case EXT2_ET_BAD_DIND_BLOCK: case EXT2_ET_BAD_TIND_BLOCK:
    case EXT2_ET_CORRUPT_SUPERBLOCK: case EXT2_ET_BAD_BLOCK_IN_INODE_TABLE: case EXT2_ET_FILE_TOO_BIG:
    case EXT2_ET_BAD_EA_BLOCK_NUM: case EXT2_ET_EXTENT_HEADER_BAD: case EXT2_ET_EXTENT_INDEX_BAD:
    case EXT2_ET_EXTENT_LEAF_BAD: case EXT2_ET_EXTENT_INVALID_LENGTH: case EXT2_ET_BAD_DESC_SIZE:
    case EXT2_ET_INODE_CSUM_INVALID: case EXT2_ET_INODE_BITMAP_CSUM_INVALID:
    case EXT2_ET_EXTENT_CSUM_INVALID: case EXT2_ET_DIR_CSUM_INVALID: case EXT2_ET_EXT_ATTR_CSUM_INVALID:
    case EXT2_ET_SB_CSUM_INVALID: case EXT2_ET_BLOCK_BITMAP_CSUM_INVALID: case EXT2_ET_EA_BAD_NAME_LEN:
    case EXT2_ET_EA_BAD_VALUE_SIZE: case EXT2_ET_BAD_EA_HASH: case EXT2_ET_BAD_EA_HEADER:
    case EXT2_ET_NO_INLINE_DATA: case EXT2_ET_INLINE_DATA_NO_BLOCK: case EXT2_ET_EA_BAD_VALUE_OFFSET:
    case EXT2_ET_FILESYSTEM_CORRUPTED: case EXT2_ET_BAD_CRC: case EXT2_ET_INODE_CORRUPTED:
    case EXT2_ET_EA_INODE_CORRUPTED: case EXT2_ET_NO_GDESC: case EXT2_ET_EXTENT_CYCLE:
    case EXT2_ET_SYMLINK_LOOP:
        return STASIS_EXT2_ERR_CORRUPT;
    default:
        // com_err passes errno values through unchanged; table codes are far above them.
        if (code > 0 && code < 4096) return STASIS_EXT2_ERR_SYSTEM;
        return STASIS_EXT2_ERR_OTHER;
    }
}
