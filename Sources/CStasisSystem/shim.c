#define _GNU_SOURCE
#include "CStasisSystem.h"
#include <fcntl.h>
#include <unistd.h>
#include <linux/falloc.h>

int stasis_seek_data(void) { return SEEK_DATA; }
int stasis_seek_hole(void) { return SEEK_HOLE; }

int stasis_start_writeback(int fd, int64_t offset, int64_t length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

int stasis_punch_hole(int fd, int64_t offset, int64_t length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
}

int stasis_open(const char *path, int flags, mode_t mode) {
    return open(path, flags, mode);
}
