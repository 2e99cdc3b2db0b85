#ifndef STASIS_CFUSE_H
#define STASIS_CFUSE_H
// The kernel's FUSE protocol (<linux/fuse.h>: request and reply structs, opcodes, flags), spoken
// directly over /dev/fuse, and the two calls that mount and unmount a connection.
#include <linux/fuse.h>

/// mount("stasis", target, "fuse", MS_NOSUID|MS_NODEV, options): 0, or -1 with errno.
int stasis_fuse_mount(const char *target, const char *options);
/// umount2(target, MNT_DETACH when `detach`): 0, or -1 with errno.
int stasis_fuse_unmount(const char *target, int detach);
#endif
