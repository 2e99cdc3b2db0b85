import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's enforcement of a sandbox's egress policy (`NetworkPolicy.allow`), in nftables.
///
/// QEMU's user-mode network (slirp) turns each of the guest's connections into a socket of QEMU
/// itself, and QEMU runs as a user of its own (`VMMConfinement`): so a rule on the host's output
/// hook that matches that user (`meta skuid`) sees exactly the sandbox's traffic. One table,
/// `inet stasis`, holds
/// - a base chain that sends each sandbox user to its own chain (a verdict map, `sandboxes`),
///   then rejects everything else from the whole range of sandbox users — fail closed: a sandbox
///   whose chain is missing (never made, or swept) reaches nothing;
/// - per sandbox, a chain `sb_<sandbox>_u<uid>`: replies of connections already accepted
///   (published ports, allowed destinations), the allowed address.port pairs, then a reject (a
///   TCP reset, so the guest's connect fails at once instead of waiting for a timeout).
///
/// Made before QEMU starts, removed once it has exited; `sweep` removes the chains of users no
/// process runs as any more (a QEMU that crashed, a host that rebooted keeps no table anyway).
public struct EgressFirewall: Codable, Sendable, Equatable {
    /// The sandbox's chain in table `inet stasis`.
    public var chain: String
    public var uid: UInt32

    static let table = "inet stasis"

    /// nft, if installed.
    static func nft() -> String? {
        ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first(where: FileManager.default.isExecutableFile(atPath:))
    }

    /// Why the policy cannot be enforced for a QEMU confined as `confinement`, or nil when it can.
    static func unavailableReason(for confinement: VMMConfinement) -> String? {
        guard let uid = confinement.uid else {
            return "Stasis does not run as root (or STASIS_VMM_CONFINEMENT=seccomp-only), so QEMU has no user of its own whose traffic the kernel could filter"
        }
        guard VMMConfinement.sandboxIDs.contains(uid) else {
            return "QEMU runs as the shared user \(uid) (STASIS_VMM_USER=shared), so one sandbox's allow list would apply to all"
        }
        guard nft() != nil else { return "nft is not installed (`apt-get install nftables`; Tools/setup.sh installs it)" }
        return nil
    }

    /// Creates the table if needed and the sandbox's chain, in one transaction.
    static func install(sandbox: String, uid: UInt32, policy: NetworkPolicy) throws(SandboxError) -> EgressFirewall {
        sweep()
        let firewall = EgressFirewall(chain: "sb_\(sandbox)_u\(uid)", uid: uid)
        var script = tableExists() ? "" : baseTable
        script += "add chain \(table) \(firewall.chain)\n"
        script += "add rule \(table) \(firewall.chain) ct state established,related accept\n"
        let endpoints = policy.allowedEndpoints
        if !endpoints.isEmpty {
            let set = endpoints.map { "\($0.address) . \($0.port)" }.joined(separator: ", ")
            script += "add rule \(table) \(firewall.chain) ip daddr . tcp dport { \(set) } accept\n"
        }
        script += "add rule \(table) \(firewall.chain) meta l4proto tcp reject with tcp reset\n"
        script += "add rule \(table) \(firewall.chain) reject with icmpx admin-prohibited\n"
        script += "add element \(table) sandboxes { \(uid) : jump \(firewall.chain) }\n"
        if let failure = run(["-f", "-"], input: script) {
            throw .io("install the egress rules of sandbox \(sandbox) (nft: \(failure))", EPERM)
        }
        return firewall
    }

    /// Removes the sandbox's chain (and its entry in the map). Quiet when already gone.
    public func remove() {
        _ = Self.run(["-f", "-"], input: """
            delete element \(Self.table) sandboxes { \(uid) : jump \(chain) }
            delete chain \(Self.table) \(chain)

            """)
        // One of the two may have been gone already (a transaction fails whole): each alone.
        _ = Self.run(["delete", "element", "inet", "stasis", "sandboxes", "{ \(uid) : jump \(chain) }"])
        _ = Self.run(["delete", "chain", "inet", "stasis", chain])
    }

    /// True while the sandbox's chain is in the ruleset.
    public var isInstalled: Bool {
        Self.run(["list", "chain", "inet", "stasis", chain]) == nil
    }

    /// Removes the chains of sandbox users that no process runs as.
    public static func sweep() {
        guard nft() != nil, let listing = output(["list", "table", "inet", "stasis"]) else { return }
        let running = runningUsers()
        for line in listing.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "chain", words[1].hasPrefix("sb_"),
                  let u = words[1].split(separator: "_").last, u.hasPrefix("u"), let uid = UInt32(u.dropFirst()),
                  !running.contains(uid) else { continue }
            EgressFirewall(chain: String(words[1]), uid: uid).remove()
        }
    }

    static var baseTable: String {
        let range = "\(VMMConfinement.sandboxIDs.lowerBound)-\(VMMConfinement.sandboxIDs.upperBound)"
        return """
            table \(table) {
              map sandboxes { type uid : verdict; }
              chain output {
                type filter hook output priority filter; policy accept;
                meta skuid vmap @sandboxes
                meta skuid \(range) meta l4proto tcp reject with tcp reset
                meta skuid \(range) reject with icmpx admin-prohibited
              }
            }

            """
    }

    static func tableExists() -> Bool { run(["list", "table", "inet", "stasis"]) == nil }

    /// The effective user ids of the host's processes (the owner of `/proc/PID`).
    static func runningUsers() -> Set<UInt32> {
        var users = Set<UInt32>()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(name) != nil {
            var info = stat()
            if stat("/proc/" + name, &info) == 0 { users.insert(info.st_uid) }
        }
        return users
    }

    /// Runs nft; nil on success, else what it said.
    static func run(_ arguments: [String], input: String? = nil) -> String? {
        switch execute(arguments, input: input) {
        case .success: return nil
        case .failure(let message): return message
        }
    }

    static func output(_ arguments: [String]) -> String? {
        if case .success(let text) = execute(arguments, input: nil) { return text }
        return nil
    }

    enum Outcome { case success(String), failure(String) }

    static func execute(_ arguments: [String], input: String?) -> Outcome {
        guard let nft = nft() else { return .failure("nft is not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nft)
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), stdin = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin
        do { try process.run() } catch { return .failure("cannot start \(nft): \(error)") }
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? "exit \(process.terminationStatus)" : message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return .success(text)
    }
}
