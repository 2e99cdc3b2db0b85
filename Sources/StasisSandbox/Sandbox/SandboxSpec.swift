import Foundation

/// Everything needed to start (or restart from a checkpoint) one sandbox, saved as
/// `sandbox.json` in its directory and stored as the `config` blob of each checkpoint, so a
/// restore launches QEMU with the same machine: same memory backend and size, same devices in the
/// same order, same kernel and initrd.
public struct SandboxSpec: Codable, Sendable, Equatable {
    public var id: String
    public var session: String
    public var memoryBytes: Int64
    public var vcpus: Int
    /// "kvm" or "tcg": which accelerator ran.
    public var accelerator: String
    public var kernelCommandLine: String
    /// The identity the guest sees; new for every restored clone.
    public var mac: String
    public var vsockCID: UInt32
    public var machineID: String
    /// Disk names (each is `disk-NAME.raw` in the sandbox directory), in device order.
    public var disks: [String]
    public var restoredFrom: String?
    public var createdAt: Date
    /// The QEMU device the guest agent talks through. `nil` in specs written before the field
    /// existed: those machines (and their checkpoints' device state) have a `virtconsole`, and a
    /// restore must rebuild the same device.
    public var agentPort: AgentPort?
    /// The template whose root disk the guest switched into (`stasis.root=` on the kernel
    /// command line); nil for the plain guest with an empty disk at /mnt/disk.
    public var template: String?
    /// The network card and its egress policy; nil: no network card at all (specs written
    /// before the field existed have none).
    public var network: NetworkPolicy?

    /// How the guest agent's channel is wired (Tools/guest/PROTOCOL.md, "Transport").
    public enum AgentPort: String, Codable, Sendable {
        /// A virtio serial port: the guest's writes wait while the host reads slowly.
        case serialPort = "virtserialport"
        /// A virtio console (`/dev/hvc0`): QEMU drops output the host socket cannot take at once.
        /// Kept only so that sandboxes checkpointed with it can be restored.
        case console = "virtconsole"
    }

    /// The device actually used: the recorded one, else the console of older specs.
    public var effectiveAgentPort: AgentPort { agentPort ?? .console }

    public init(id: String, session: String, memoryBytes: Int64, vcpus: Int, accelerator: String, kernelCommandLine: String,
                mac: String, vsockCID: UInt32, machineID: String, disks: [String], restoredFrom: String?, createdAt: Date,
                agentPort: AgentPort? = .serialPort) {
        self.id = id; self.session = session; self.memoryBytes = memoryBytes; self.vcpus = vcpus
        self.accelerator = accelerator; self.kernelCommandLine = kernelCommandLine; self.mac = mac
        self.vsockCID = vsockCID; self.machineID = machineID; self.disks = disks
        self.restoredFrom = restoredFrom; self.createdAt = createdAt; self.agentPort = agentPort
    }

    /// A fresh identity: sandbox id, locally administered MAC, vsock CID, machine id.
    public mutating func renewIdentity() {
        var g = SystemRandomNumberGenerator()
        id = String(format: "%016llx", g.next() as UInt64)
        let b = (0..<5).map { _ in UInt8.random(in: 0...255, using: &g) }
        mac = "02:" + b.map { String(format: "%02x", $0) }.joined(separator: ":")
        vsockCID = UInt32.random(in: 3...0xFFFF_FFFE, using: &g)
        machineID = String(format: "%016llx%016llx", g.next() as UInt64, g.next() as UInt64)
    }

    public var json: Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return (try? e.encode(self)) ?? Data()
    }

    public static func decode(_ data: Data) -> SandboxSpec? {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return try? d.decode(SandboxSpec.self, from: data)
    }
}
