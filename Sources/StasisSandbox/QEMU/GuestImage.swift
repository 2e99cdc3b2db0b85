import Foundation

/// The guest kernel and initramfs built by `Tools/guest/build.sh` into a cache folder.
public struct GuestImage: Sendable {
    public var kernel: String
    public var initrd: String
    /// Host TSC frequency (kHz) for the guest's `tsc_early_khz` (microvm cannot calibrate it).
    public var tscKHz: Int

    public static var defaultCache: String {
        ProcessInfo.processInfo.environment["STASIS_GUEST_CACHE"] ?? "/var/cache/stasis/guest"
    }

    /// Finds the built guest, or says how to build it.
    public static func locate(cache: String = defaultCache) throws(SandboxError) -> GuestImage {
        let kernel = ["vmlinux", "bzImage"].map { cache + "/" + $0 }.first { FileManager.default.fileExists(atPath: $0) }
        let initrd = cache + "/initramfs.cpio.gz"
        guard let kernel, FileManager.default.fileExists(atPath: initrd) else {
            throw .guestMissing("no kernel and initramfs in \(cache)")
        }
        return GuestImage(kernel: kernel, initrd: initrd, tscKHz: hostTSCKHz())
    }

    /// The host's TSC frequency: sysfs when the kernel exports it, else /proc/cpuinfo's MHz.
    static func hostTSCKHz() -> Int {
        if let s = try? String(contentsOfFile: "/sys/devices/system/cpu/cpu0/tsc_freq_khz", encoding: .utf8),
           let v = Int(s.trimmingCharacters(in: .whitespacesAndNewlines)) { return v }
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            for line in info.split(separator: "\n") where line.hasPrefix("cpu MHz") {
                if let mhz = Double(line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) { return Int(mhz * 1000) }
            }
        }
        return 2_000_000
    }

    public func commandLine() -> String {
        "console=ttyS0 panic=-1 quiet tsc_early_khz=\(tscKHz) tsc=reliable"
    }
}
