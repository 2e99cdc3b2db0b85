import Foundation

/// What a confined QEMU sees of the host's file system: a mount namespace of its own whose root
/// is a small read-only tmpfs holding `/usr` (read-only, with the `/bin`, `/lib`… links or
/// mounts a merged or split `/usr` needs), the dynamic linker's cache, a few device nodes
/// (`null`, `zero`, `urandom`, and `kvm` when present) and its own `/proc`.
/// No `/home`, no `/tmp`, no `/var`, no store, no other sandbox: everything QEMU uses of its
/// sandbox arrives as descriptors (`QEMUCommand.HandedFiles`). Its own IPC and UTS namespaces
/// too, and its own empty network namespace unless the sandbox's user-mode network must open host
/// sockets (`hostNetwork`: an allow list or published ports), whose traffic `EgressFirewall` then
/// holds to the sandbox's policy.
///
/// Built by `/bin/sh` inside `unshare` (util-linux) as root, just before `setpriv` drops to
/// the sandbox's user and executes QEMU; the process keeps its pid throughout (no fork), so the
/// recorded pid is QEMU's.
enum VMMFileSystemView {
    /// `joining`: cgroup.procs files the process enters first (`VMMResourceLimits`), while the
    /// host's /sys is still in view.
    static func command(joining cgroups: [String] = [], hostNetwork: Bool = false, then program: [String]) throws(SandboxError) -> [String] {
        guard let unshare = ["/usr/bin/unshare", "/bin/unshare"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw .qemuMissing("unshare is missing, and Stasis runs as root: QEMU only runs in a mount namespace of its own; install util-linux")
        }
        return [unshare, "--mount", "--uts", "--ipc"] + (hostNetwork ? [] : ["--net"]) + ["--propagation", "private", "--",
                "/bin/sh", "-c", script, "stasis-vmm", "\(cgroups.count)"] + cgroups + program
    }

    /// Every step must succeed (`set -eu`): a half-built view never runs QEMU. Few programs on
    /// purpose — each costs a fork and exec on every sandbox start — and shell built-ins where
    /// they do (`: >` for empty files, `[ -L ]` for links).
    static let script = """
        set -eu
        n=$1; shift
        while [ "$n" -gt 0 ]; do echo $$ >"$1"; shift; n=$((n - 1)); done
        mount -t tmpfs -o size=1m,mode=0755,nosuid,nodev stasis-vmm-root /tmp
        cd /tmp
        mkdir usr proc dev etc old
        mount -o bind,ro,nosuid,nodev /usr usr
        links=""
        for d in bin sbin lib lib64 lib32 libx32; do
          if [ -L "/$d" ]; then links="$links /$d"
          elif [ -d "/$d" ]; then mkdir "$d"; mount -o bind,ro,nosuid,nodev "/$d" "$d"
          fi
        done
        [ -z "$links" ] || cp -P $links .
        if [ -e /etc/ld.so.cache ]; then : >etc/ld.so.cache; mount -o bind,ro /etc/ld.so.cache etc/ld.so.cache; fi
        for n in null zero urandom kvm; do
          [ -c "/dev/$n" ] || continue
          : >"dev/$n"
          mount --bind "/dev/$n" "dev/$n"
        done
        mount -t proc -o nosuid,nodev,noexec proc proc
        pivot_root . old
        cd /
        umount -l /old
        rmdir /old
        mount -o remount,bind,ro /
        exec "$@"
        """
}
