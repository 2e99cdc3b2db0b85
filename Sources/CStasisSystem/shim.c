#define _GNU_SOURCE
#include "CStasisSystem.h"
#include <fcntl.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <sys/syscall.h>

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

int64_t stasis_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, int64_t len) {
    loff_t a = *off_in, b = *off_out;
    ssize_t n = copy_file_range(fd_in, &a, fd_out, &b, (size_t)len, 0);
    if (n > 0) { *off_in = a; *off_out = b; }
    return n;
}

int stasis_pipe(int fds[2], int capacity) {
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    if (capacity > 0) (void)fcntl(fds[0], F_SETPIPE_SZ, capacity);
    return 0;
}

int stasis_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}
