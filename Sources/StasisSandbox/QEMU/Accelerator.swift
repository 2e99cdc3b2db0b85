import Foundation

/// Whether KVM can run the guest here. `/dev/kvm` existing is not enough (a nested software
/// device may refuse a stock kernel): a short boot probe decides, once per host, and the result is
/// kept next to the guest image.
public enum Accelerator {
    public static func detect(guest: GuestImage, cache: String = GuestImage.defaultCache) -> String {
        if let forced = ProcessInfo.processInfo.environment["STASIS_ACCEL"], ["kvm", "tcg"].contains(forced) { return forced }
        let record = cache + "/accelerator"
        if let known = try? String(contentsOfFile: record, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           ["kvm", "tcg"].contains(known) { return known }
        let result = probeKVM(guest: guest) ? "kvm" : "tcg"
        try? result.write(toFile: record, atomically: true, encoding: .utf8)
        return result
    }

    /// Boots the guest under KVM with 128 MiB and no disk; KVM counts as usable when the agent
    /// answers within 10 s (a KVM boot takes about a second; TCG needs about 7).
    static func probeKVM(guest: GuestImage) -> Bool {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else { return false }
        let dir = SandboxDirectory(path: NSTemporaryDirectory() + "stasis-kvm-probe-" + String(UInt32.random(in: 0...UInt32.max), radix: 16))
        try? FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        defer {
            if let pid = dir.runningPID { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: dir.path)
        }
        try? FileManager.default.copyItem(atPath: guest.kernel, toPath: dir.kernel)
        try? FileManager.default.copyItem(atPath: guest.initrd, toPath: dir.initrd)
        var spec = SandboxSpec(id: "kvmprobe", session: "", memoryBytes: 128 << 20, vcpus: 1, accelerator: "kvm",
                               kernelCommandLine: guest.commandLine(), mac: "", vsockCID: 3, machineID: "", disks: [],
                               restoredFrom: nil, createdAt: Date())
        spec.renewIdentity()
        do {
            try QEMUCommand.launch(spec, dir, incoming: false)
            let agent = try GuestAgent(path: dir.agent, timeout: 3)
            try agent.waitReady(timeout: 8)
            return true
        } catch {
            return false
        }
    }
}
