#include "CFUSE.h"
#include <sys/mount.h>

int stasis_fuse_mount(const char *target, const char *options) {
    return mount("stasis", target, "fuse", MS_NOSUID | MS_NODEV, options);
}

int stasis_fuse_unmount(const char *target, int detach) {
    return umount2(target, detach ? MNT_DETACH : 0);
}
