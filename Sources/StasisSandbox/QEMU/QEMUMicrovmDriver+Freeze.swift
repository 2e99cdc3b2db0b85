import Foundation

/// Consistent disks for a checkpoint: before the pause the guest writes out its page cache and
/// freezes its ext4 filesystems on virtio disks (FIFREEZE through busybox `fsfreeze`, which also
/// checkpoints the journal), so that each disk image alone is a clean filesystem holding every
/// file written before the checkpoint — what `stasis diff`, `checkpoint cat` and every other
/// file-level view read without replaying a journal. They are thawed once the guest runs again:
/// after `cont`, and after a restore (a pause's checkpoint holds a guest whose filesystems are
/// frozen in its memory).
extension QEMUMicrovmDriver {
    /// The guest's ext4 mounts of virtio disks (`/mnt/disk`, or `/` in a template), one a line.
    static let diskMounts = "awk '$1 ~ \"^/dev/vd\" && $3 == \"ext4\" { print $2 }' /proc/mounts"

    /// What a checkpoint's `guest_sync` says: `freeze` (synced and frozen), `sync` (synced; some
    /// filesystem refused the freeze), or `none: REASON` (a guest that did not answer in time —
    /// busy with another client's long command, or broken — is checkpointed anyway: memory and
    /// disk still come from one pause, but the disk may lag the memory).
    struct GuestQuiesce {
        var record: String
        var frozen: Bool
    }

    static func quiesceGuest(_ dir: SandboxDirectory, timeout: TimeInterval = 20) -> GuestQuiesce {
        // A subshell: the persistent shell's variables stay as they were, and its `exit` ends
        // only the subshell. busybox's fsfreeze takes only the long options.
        let script = """
            (
            sync || exit 3
            n=0
            for m in $(\(diskMounts)); do fsfreeze --freeze "$m" >/dev/null 2>&1 || n=$((n + 1)); done
            [ "$n" -eq 0 ] || exit 4
            )
            """
        do {
            let agent = try GuestAgent(path: dir.agent, timeout: 5)
            let result = try agent.exec(script, timeout: timeout)
            switch result.exitCode {
            case 0: return GuestQuiesce(record: "freeze", frozen: true)
            case 4: return GuestQuiesce(record: "sync", frozen: true)
            default: return GuestQuiesce(record: "none: sync exited \(result.exitCode)", frozen: false)
            }
        } catch {
            return GuestQuiesce(record: "none: \(error)", frozen: false)
        }
    }

    /// Thaws every frozen disk filesystem (one that is not frozen refuses, which is ignored).
    static func thawGuest(_ dir: SandboxDirectory, timeout: TimeInterval = 20) throws(SandboxError) {
        try thawGuest(GuestAgent(path: dir.agent, timeout: 5), timeout: timeout)
    }

    /// The same over a connected agent (the channel takes one client at a time).
    static func thawGuest(_ agent: GuestAgent, timeout: TimeInterval = 20) throws(SandboxError) {
        _ = try agent.exec("(for m in $(\(diskMounts)); do fsfreeze --unfreeze \"$m\" >/dev/null 2>&1; done); true", timeout: timeout)
    }
}
