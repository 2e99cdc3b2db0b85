import Foundation
import Testing
@testable import StasisSandbox

/// Invariants checked (no VM needed): the sandbox description in Formats/sandbox-config.md decodes;
/// encoding round-trips; a renewed identity changes id, MAC (locally administered, unicast),
/// vsock CID (≥ 3) and machine id; the QEMU command line keeps the memory backend, devices and
/// their order, and a restore adds only `-incoming defer -S`.
@Suite("Sandbox description and QEMU command line")
struct SandboxSpecTests {
    @Test("the documented example decodes and round-trips")
    func example() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let text = try String(contentsOfFile: url.path + "/Formats/sandbox-config.md", encoding: .utf8)
        let start = try #require(text.range(of: "```json\n"))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let spec = try #require(SandboxSpec.decode(Data(text[start.upperBound..<end.lowerBound].utf8)))
        #expect(spec.memoryBytes == 256 << 20 && spec.disks == ["root"] && spec.accelerator == "tcg")
        #expect(SandboxSpec.decode(spec.json) == spec)
    }

    @Test("identity renewal and the command line")
    func identityAndCommandLine() throws {
        var spec = SandboxSpec(id: "a", session: "s", memoryBytes: 256 << 20, vcpus: 1, accelerator: "tcg",
                               kernelCommandLine: "console=ttyS0", mac: "", vsockCID: 0, machineID: "", disks: ["root", "data"],
                               restoredFrom: nil, createdAt: Date())
        spec.renewIdentity()
        let first = spec
        spec.renewIdentity()
        #expect(first.id != spec.id && first.mac != spec.mac && first.machineID != spec.machineID)
        #expect(spec.mac.hasPrefix("02:") && spec.vsockCID >= 3)
        let dir = SandboxDirectory(path: "/tmp/x")
        let boot = QEMUCommand.arguments(spec, dir, incoming: false)
        let restore = QEMUCommand.arguments(spec, dir, incoming: true)
        #expect(Array(restore.prefix(boot.count)) == boot)
        #expect(Array(restore.suffix(3)) == ["-incoming", "defer", "-S"])
        #expect(boot.contains("memory-backend-file,id=mem,size=256M,mem-path=/tmp/x/guest.mem,share=on"))
        let drives = boot.enumerated().filter { $0.element.hasPrefix("id=d") }.map(\.element)
        #expect(drives.first?.contains("disk-root.raw") == true && drives.last?.contains("disk-data.raw") == true)
    }
}
