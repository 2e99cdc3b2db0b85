import Foundation
import Testing

/// `stasis sandbox run --allow/--publish` with bad values, through the real binary: exit 1, a
/// `sandbox.bad_argument` JSON error naming the value, and nothing started — no session, no
/// sandbox (values are checked before a session is made).
@Suite("stasis sandbox run: network options")
struct SandboxNetworkCommandTests {
    @Test("bad --allow and --publish values: an error naming the value, nothing started")
    func badValues() throws {
        let dir = Scratch()
        let store = dir.file("store")
        #expect(try StasisProcess.run(["init", "--store", store]).status == 0)
        let held = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(held) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(held, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(held, $0, &length) } }
        let heldPort = UInt16(bigEndian: address.sin_port)
        let cases: [([String], String)] = [
            (["--allow", "example.org"], "--allow example.org: a destination is HOST:PORT, with a port"),
            (["--allow", "127.0.0.1:0"], "--allow 127.0.0.1:0: '0' is not a port"),
            (["--allow", "127.0.0.1:70000"], "--allow 127.0.0.1:70000: '70000' is not a port"),
            (["--allow", "no-such-host.invalid:443"], "--allow no-such-host.invalid:443: cannot resolve 'no-such-host.invalid'"),
            (["--publish", "8080:80:1"], "--publish 8080:80:1: give GUESTPORT or HOSTPORT:GUESTPORT"),
            (["--publish", "\(heldPort):80"], "--publish \(heldPort):80: host port \(heldPort) on 127.0.0.1 is in use by another program"),
        ]
        for (options, expected) in cases {
            let r = try StasisProcess.run(["sandbox", "run", "--store", store, "--json"] + options)
            #expect(r.status == 1 && r.json?["code"] as? String == "sandbox.bad_argument", "\(options): \(r.stdout)")
            #expect((r.json?["error"] as? String)?.contains(expected) == true, "\(options): \(r.stdout)")
        }
        let sessions = try StasisProcess.run(["session", "ls", "--store", store, "--json"])
        #expect(sessions.status == 0 && sessions.stdout.filter { !$0.isWhitespace } == "[]", "\(sessions.stdout)")
        let sandboxes = try StasisProcess.run(["sandbox", "ls", "--store", store, "--json"])
        #expect(sandboxes.stdout.filter { !$0.isWhitespace }.contains("\"sandboxes\":[]"), "\(sandboxes.stdout)")
    }
}
