import CStasisSystem
import Foundation
import StasisFUSE
import StasisSandbox

/// Stops a lazily restored sandbox's VM when its page server dies (`stasis sandbox page-server
/// --watch`, started by the page server at hand-off). Without it, a guest would run on until it
/// touched a page the kernel no longer caches, and QEMU would die of SIGBUS at some later time.
/// Waits on both processes (pidfds, no polling): the VM ending first ends the watchdog; the page
/// server ending first while its status is not `stopped` kills the VM and records the failure.
public enum PageServerWatchdog {
    public static func run(directory: String) -> Int32 {
        let dir = SandboxDirectory(path: directory)
        guard let status = PageServerStatus.load(dir), let qemu = dir.process else { return 1 }
        let serverFD = stasis_pidfd_open(status.pid)
        let qemuFD = stasis_pidfd_open(qemu.pid)
        defer { if serverFD >= 0 { close(serverFD) }; if qemuFD >= 0 { close(qemuFD) } }
        // Checked after opening, so that each pidfd is known to be the recorded process.
        guard qemuFD >= 0, qemu.isRunning else { return 0 }
        if serverFD >= 0, status.isRunning {
            var fds = [pollfd(fd: serverFD, events: Int16(POLLIN), revents: 0), pollfd(fd: qemuFD, events: Int16(POLLIN), revents: 0)]
            while poll(&fds, 2, -1) < 0 && errno == EINTR {}
            if fds[1].revents != 0 { return 0 }
        }
        // The page server is gone. A clean stop writes `stopped` before it exits.
        guard var now = PageServerStatus.load(dir), now.state != .stopped, now.state != .failed else { return 0 }
        qemu.signal(SIGKILL)
        _ = FUSEMount.unmount(dir.memory)
        now.state = .failed
        now.error = "the page server (pid \(status.pid)) exited while its VM ran; the VM was stopped"
        now.save(dir)
        return 0
    }
}
