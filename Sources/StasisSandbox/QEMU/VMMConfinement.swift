import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a sandbox's QEMU is confined. QEMU parses guest-controlled device state and emulates
/// devices for untrusted code: it is treated as the first thing an escaping guest owns.
/// - its own seccomp filter (`-sandbox`): no obsolete system calls, no set*id, no fork or exec, no
///   scheduler or resource changes;
/// - when Stasis runs as root, a user of its own: a fresh uid and gid per sandbox (never one of
///   the host's accounts), no supplementary groups but the one that may open `/dev/kvm`, no
///   capabilities, no-new-privileges — set by util-linux `setpriv` before QEMU starts, because
///   QEMU's own `-runas` changes user after its seccomp filter forbids it;
/// - no paths of the host: every file and socket it uses is opened by Stasis and handed over as
///   a descriptor (see `QEMUCommand`), so it needs no access to the store or to any directory;
/// - when Stasis runs as root, a mount namespace whose root holds only `/usr`, a few devices and
///   its own `/proc`, and no network (`VMMFileSystemView`).
public struct VMMConfinement: Codable, Sendable, Equatable {
    /// The user QEMU runs as; nil when Stasis is not root and QEMU runs as Stasis's own user.
    public var uid: UInt32?
    public var gid: UInt32?
    /// Supplementary groups (the group that owns `/dev/kvm`, when it may open it).
    public var groups: [UInt32]
    /// QEMU's `-sandbox` option.
    public var seccomp: String
    /// Whether QEMU runs in a mount (and network, IPC, UTS) namespace of its own.
    public var privateFileSystem: Bool

    public init(uid: UInt32?, gid: UInt32?, groups: [UInt32], seccomp: String, privateFileSystem: Bool = false) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.seccomp = seccomp
        self.privateFileSystem = privateFileSystem
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        uid = try c.decodeIfPresent(UInt32.self, forKey: .uid)
        gid = try c.decodeIfPresent(UInt32.self, forKey: .gid)
        groups = try c.decodeIfPresent([UInt32].self, forKey: .groups) ?? []
        seccomp = try c.decode(String.self, forKey: .seccomp)
        privateFileSystem = try c.decodeIfPresent(Bool.self, forKey: .privateFileSystem) ?? false
    }

    public static let seccompPolicy = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

    /// Per-sandbox ids come from this range: far above the ids distributions hand out (useradd's
    /// SUB_UID ranges start at 100000 and grow by 65536 per user), below the 32-bit limit.
    static let firstID: UInt32 = 3_000_000_000
    static let idCount: UInt32 = 1 << 24
    /// Every per-sandbox id (the egress rules reject whatever of this range they do not know).
    static var sandboxIDs: ClosedRange<UInt32> { firstID...(firstID + (idCount - 1)) }

    /// A confinement for a new QEMU process. `STASIS_VMM_USER=shared` runs every QEMU as one user
    /// (`STASIS_VMM_UID`, default 65534) for hosts whose policy forbids unnamed ids.
    /// `STASIS_VMM_CONFINEMENT=seccomp-only` keeps only QEMU's seccomp filter — for measuring what
    /// the rest costs, and for hosts whose kernel refuses namespaces; the record says so.
    public static func forNewProcess(environment: [String: String] = ProcessInfo.processInfo.environment) -> VMMConfinement {
        let seccompOnly = environment["STASIS_VMM_CONFINEMENT"] == "seccomp-only"
        guard geteuid() == 0, !seccompOnly else { return VMMConfinement(uid: nil, gid: nil, groups: [], seccomp: seccompPolicy) }
        let id: UInt32
        if environment["STASIS_VMM_USER"] == "shared" {
            id = environment["STASIS_VMM_UID"].flatMap { UInt32($0) } ?? 65534
        } else {
            id = firstID + UInt32.random(in: 0..<idCount)
        }
        return VMMConfinement(uid: id, gid: id, groups: kvmGroup().map { [$0] } ?? [], seccomp: seccompPolicy, privateFileSystem: true)
    }

    /// The group that may read and write `/dev/kvm` (Debian: `kvm`, 0660), if there is one.
    static func kvmGroup() -> UInt32? {
        var info = stat()
        guard stat("/dev/kvm", &info) == 0, info.st_gid != 0, info.st_mode & 0o060 == 0o060 else { return nil }
        return info.st_gid
    }

    /// The program and arguments that start `qemu` with `qemuArguments` under this confinement.
    /// `hostNetwork`: QEMU keeps the host's network namespace (a sandbox whose slirp must open
    /// host sockets: allowed destinations, published ports); its traffic is then held to the
    /// sandbox's policy by `EgressFirewall`.
    func command(qemu: String, _ qemuArguments: [String], joining cgroups: [String] = [], hostNetwork: Bool = false) throws(SandboxError) -> (program: String, arguments: [String]) {
        let confined = qemuArguments + ["-sandbox", seccomp]
        guard let uid, let gid else { return (qemu, confined) }
        let setpriv = try Self.setpriv()
        var wrapper = ["--reuid=\(uid)", "--regid=\(gid)"]
        wrapper.append(groups.isEmpty ? "--clear-groups" : "--groups=" + groups.map(String.init).joined(separator: ","))
        wrapper += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", qemu]
        let dropped = [setpriv] + wrapper + confined
        guard privateFileSystem else { return (setpriv, Array(dropped.dropFirst())) }
        let viewed = try VMMFileSystemView.command(joining: cgroups, hostNetwork: hostNetwork, then: dropped)
        return (viewed[0], Array(viewed.dropFirst()))
    }

    static func setpriv() throws(SandboxError) -> String {
        for path in ["/usr/bin/setpriv", "/bin/setpriv"] where FileManager.default.isExecutableFile(atPath: path) { return path }
        throw .qemuMissing("setpriv is missing, and Stasis runs as root: QEMU is never started as root; install util-linux (`apt-get install util-linux`)")
    }

    /// Makes `path` (a file QEMU writes: memory, a disk, the console log) the confined user's, so
    /// that QEMU can reopen it through its descriptor; nothing else of the host becomes its.
    func handOver(_ path: String) throws(SandboxError) {
        guard let uid, let gid else { return }
        guard chown(path, uid, gid) == 0 else { throw .io("give \(path) to the sandbox's user \(uid)", errno) }
    }
}
