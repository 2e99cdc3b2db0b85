#ifndef STASIS_CSYSTEM_H
#define STASIS_CSYSTEM_H
// Linux calls and constants that Swift's Glibc module does not expose
// (they need _GNU_SOURCE or are variadic).
#include <stdint.h>
#include <sys/types.h>

int stasis_seek_data(void);
int stasis_seek_hole(void);
/// sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE): start write-back early, do not wait.
int stasis_start_writeback(int fd, int64_t offset, int64_t length);
/// fallocate(fd, PUNCH_HOLE|KEEP_SIZE, off, len).
int stasis_punch_hole(int fd, int64_t offset, int64_t length);
/// copy_file_range(in, &off_in, out, &off_out, len, 0): an in-kernel copy (no user-space pass).
int64_t stasis_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, int64_t len);
/// open(path, flags, mode) without the variadic form.
int stasis_open(const char *path, int flags, mode_t mode);
#endif

/// pipe2(fds, O_CLOEXEC), then asks for `capacity` bytes of pipe buffer (F_SETPIPE_SZ; a refusal
/// leaves the default). 0, or -1 with errno.
int stasis_pipe(int fds[2], int capacity);

/// pidfd_open(pid, 0): a descriptor that becomes readable when the process exits (Linux 5.3).
/// -1 with errno.
int stasis_pidfd_open(pid_t pid);
