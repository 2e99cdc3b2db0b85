import Foundation
import StasisStoreTestSupport
import Testing
@testable import StasisRestore
@testable import StasisSandbox
@testable import StasisSessions

/// Sandboxes with a network card, on real microVMs (Formats/sandbox-config.md, "network").
/// Invariants checked:
/// - outbound is denied by default: a sandbox with a network but no allow list reaches neither
///   the host's loopback nor anything else, and the refusal is a refused connection, not a wait;
/// - `--allow 127.0.0.1:PORT` lets the guest fetch from a server on the host's loopback (at
///   10.0.2.2:PORT), byte for byte; a second server on another port is refused;
/// - `--publish` reaches a server in the guest from the host's loopback;
/// - a TCP connection open at a pause is reset after the resume (the guest's next read fails;
///   the host's server saw it close when the old QEMU went), and new connections work again;
/// - a clone restored from the same checkpoint has a new MAC, its address, the same policy and
///   a new published host port, and reaches the allowed server;
/// - the egress rules are in the host's ruleset while the sandbox runs, gone after stop;
/// - bad `--allow`/`--publish` values are refused naming the value.
enum NetworkGuest {
    /// QEMU and a guest image built with the network card's module and `stasis-net`.
    static var available: Bool {
        guard MicroVM.available,
              let env = try? String(contentsOfFile: GuestImage.defaultCache + "/guest.env", encoding: .utf8) else { return false }
        return env.contains("virtio_net")
    }

    /// Root and nft: the allow list can be enforced.
    static var enforceable: Bool {
        available && EgressFirewall.unavailableReason(for: VMMConfinement.forNewProcess()) == nil
    }
}

/// A server on the host's loopback (python3): `http DIR` serves DIR's files; `echo LOG` echoes
/// each line back and appends "open", "line TEXT" and "closed" to LOG.
final class HostServer {
    let process = Process()
    let port: UInt16

    static let script = """
        import http.server, socketserver, sys, os
        mode, arg = sys.argv[1], sys.argv[2]
        if mode == "http":
            os.chdir(arg)
            class Quiet(http.server.SimpleHTTPRequestHandler):
                def log_message(self, *a): pass
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        else:
            class Echo(socketserver.StreamRequestHandler):
                def handle(self):
                    log = lambda s: open(arg, "a").write(s + "\\n")
                    log("open")
                    for line in self.rfile:
                        log("line " + line.decode().strip())
                        self.wfile.write(line)
                    log("closed")
            server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """

    init(_ mode: String, _ argument: String, scratch: String) throws {
        let script = scratch + "/server.py"
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, mode, argument]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try out.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
        port = try #require(UInt16(String(decoding: line, as: UTF8.self)))
    }

    // SIGKILL: a child started from a test thread inherits its blocked signals, SIGTERM among them.
    deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
}

@Suite("Sandbox networks on a real microVM", .serialized,
       .enabled(if: NetworkGuest.available, "needs QEMU and a guest image with virtio_net (Tools/guest/build.sh)"))
struct SandboxNetworkTests {
    final class Fixture {
        let path = NSTemporaryDirectory() + "net-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let service: SandboxService
        init() throws {
            let store = try TestStores.create(at: path + "/s")
            service = SandboxService(sessions: SessionStore(store: store), driver: QEMUMicrovmDriver(), sandboxesDirectory: path + "/x")
            try FileManager.default.createDirectory(atPath: path + "/www", withIntermediateDirectories: true)
        }
        deinit {
            for r in service.list() { try? service.driver.stop(SandboxDirectory(path: r.directory)) }
            try? FileManager.default.removeItem(atPath: path)
        }
        func out(_ session: String, _ command: String) throws -> String {
            try service.exec(session, command, timeout: 60).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// What the guest gets from `url` with busybox wget: the body, or the error wget printed.
    static func fetch(_ f: Fixture, _ session: String, _ url: String) throws -> String {
        let r = try f.service.exec(session, "timeout 20 wget -q -O - \(url) 2>&1; echo \" rc=$?\"", timeout: 60)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// True when QEMU runs in this process's network namespace (the host's).
    static func sharesHostNetwork(_ dir: SandboxDirectory) throws -> Bool {
        let pid = try #require(dir.runningPID)
        let ns = { (p: String) in try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(p)/ns/net") }
        return ns("\(pid)") == ns("self")
    }

    /// A refusal the guest saw at once (reset, refused, unreachable), not a wait cut by `timeout`
    /// (which would end with rc=143).
    static func refusedAtOnce(_ fetched: String) -> Bool {
        fetched.hasSuffix("rc=1") && ["refused", "reset", "unreachable", "No route"].contains { fetched.contains($0) }
    }

    /// A GET to 127.0.0.1:`port` from the host: the response body.
    static func hostGet(port: UInt16, path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:\(port)\(path)', timeout=20).read().decode())"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("deny by default: a network without --allow reaches nothing, refused at once")
    func denyByDefault() throws {
        let f = try Fixture()
        try "secret\n".write(toFile: f.path + "/www/file", atomically: true, encoding: .utf8)
        let server = try HostServer("http", f.path + "/www", scratch: f.path)
        let run = try f.service.run(memoryBytes: 256 << 20, diskBytes: 64 << 20, network: NetworkPolicy())
        let s = run.session
        #expect(run.network == NetworkPolicy())
        // Nothing to reach: QEMU keeps its own empty network namespace (as root).
        if geteuid() == 0 { #expect(try !Self.sharesHostNetwork(SandboxDirectory(path: run.directory))) }
        #expect(try f.out(s, "ip -4 addr show dev eth0 | grep -o 'inet [0-9./]*'") == "inet 10.0.2.15/24")
        let fetched = try Self.fetch(f, s, "http://10.0.2.2:\(server.port)/file")
        #expect(!fetched.contains("secret") && Self.refusedAtOnce(fetched), "got \(fetched)")
        let outside = try Self.fetch(f, s, "http://192.0.2.1:80/")
        #expect(Self.refusedAtOnce(outside), "got \(outside)")
    }

    @Test("--allow, --publish, pause/resume with an open connection, a clone, rules gone after stop",
          .enabled(if: NetworkGuest.enforceable, "needs root and nft to enforce --allow"))
    func allowPublishResumeClone() throws {
        let f = try Fixture()
        try "hello from the host\n".write(toFile: f.path + "/www/file", atomically: true, encoding: .utf8)
        let allowed = try HostServer("http", f.path + "/www", scratch: f.path)
        let other = try HostServer("http", f.path + "/www", scratch: f.path)
        let echoLog = f.path + "/echo.log"
        let echo = try HostServer("echo", echoLog, scratch: f.path)
        let policy = try NetworkPolicy.parse(allow: ["127.0.0.1:\(allowed.port)", "localhost:\(echo.port)"], publish: ["8080"])
        let run = try f.service.run(memoryBytes: 256 << 20, diskBytes: 64 << 20, network: policy)
        let s = run.session
        let dir = SandboxDirectory(path: run.directory)
        let firstMAC = try dir.loadSpec().mac
        #expect(try f.out(s, "cat /sys/class/net/eth0/address") == firstMAC)
        let published = try #require(run.network?.publish.first)
        #expect(published.guestPort == 8080 && published.hostPort != 0)

        // The rules are in the host's ruleset, for QEMU's own user, which runs in the host's
        // network namespace.
        #expect(try Self.sharesHostNetwork(dir))
        let firewall = try #require(dir.process?.egress)
        #expect(firewall.isInstalled && firewall.uid == dir.process?.confinement.uid)

        // The allowed server, byte for byte; the other port is refused, not waited for.
        #expect(try Self.fetch(f, s, "http://10.0.2.2:\(allowed.port)/file") == "hello from the host\n rc=0")
        let refused = try Self.fetch(f, s, "http://10.0.2.2:\(other.port)/file")
        #expect(Self.refusedAtOnce(refused), "got \(refused)")

        // --publish: the host reaches busybox httpd in the guest.
        _ = try f.out(s, "mkdir -p /tmp/www && echo served-by-the-guest > /tmp/www/index.html && httpd -p 8080 -h /tmp/www")
        #expect(try Self.hostGet(port: published.hostPort, path: "/index.html") == "served-by-the-guest\n")

        // A connection left open across the pause: the guest wrote and read once, and waits
        // for /tmp/go to write and read again.
        let talk = """
            echo first; read a; echo "$a" > /tmp/r1
            while [ ! -e /tmp/go ]; do sleep 0.2; done
            echo second; if read b; then echo "got $b" > /tmp/r2; else echo "read failed" > /tmp/r2; fi
            """
        _ = try f.out(s, "cat > /tmp/talk.sh <<'EOF'\n#!/bin/sh\n\(talk)\nEOF\nchmod +x /tmp/talk.sh")
        _ = try f.out(s, "(nc 10.0.2.2 \(echo.port) -e /tmp/talk.sh; echo $? > /tmp/nc.rc) >/dev/null 2>&1 &")
        var r1 = ""
        for _ in 0..<50 where r1.isEmpty { usleep(200_000); r1 = try f.out(s, "cat /tmp/r1 2>/dev/null") }
        #expect(r1 == "first")

        let paused = try f.service.checkpoint(s, stop: true)
        #expect(!firewall.isInstalled)                             // gone with its QEMU
        // The host's server saw the connection end when the old QEMU went.
        var log = ""
        for _ in 0..<50 where !log.contains("closed") { usleep(100_000); log = (try? String(contentsOfFile: echoLog, encoding: .utf8)) ?? "" }
        #expect(log == "open\nline first\nclosed\n")

        let resumed = try f.service.resume(s)
        let resumedDir = SandboxDirectory(path: resumed.plan.directory)
        let resumedSpec = try resumedDir.loadSpec()
        #expect(resumedSpec.network?.allow == policy.allow)
        // The open connection: the guest's next write meets a reset, and its read fails.
        _ = try f.out(s, "touch /tmp/go")
        var r2 = ""
        for _ in 0..<100 where r2.isEmpty { usleep(200_000); r2 = try f.out(s, "cat /tmp/r2 2>/dev/null") }
        #expect(r2 == "read failed")
        #expect(try String(contentsOfFile: echoLog, encoding: .utf8) == "open\nline first\nclosed\n")   // nothing arrived
        // New connections work again, and the refusal holds.
        #expect(try Self.fetch(f, s, "http://10.0.2.2:\(allowed.port)/file") == "hello from the host\n rc=0")
        #expect(Self.refusedAtOnce(try Self.fetch(f, s, "http://10.0.2.2:\(other.port)/file")))
        let resumedPort = try #require(resumedSpec.network?.publish.first?.hostPort)
        #expect(try Self.hostGet(port: resumedPort, path: "/index.html") == "served-by-the-guest\n")
        #expect(try f.out(s, "cat /sys/class/net/eth0/address") == resumedSpec.mac)

        // A clone of the same checkpoint, next to it: a new MAC, the address, a new host port.
        let clone = try f.service.restore(paused.checkpoint, start: true)
        let cloneDir = SandboxDirectory(path: clone.plan.directory)
        let cloneSpec = try cloneDir.loadSpec()
        let cloneMAC = try f.service.driver.exec(cloneDir, "cat /sys/class/net/eth0/address", timeout: 30).stdout
        #expect(cloneMAC == cloneSpec.mac + "\n" && cloneSpec.mac != resumedSpec.mac && cloneSpec.mac != firstMAC)
        let cloneAddress = try f.service.driver.exec(cloneDir, "ip -4 addr show dev eth0 | grep -o 'inet [0-9./]*'", timeout: 30).stdout
        #expect(cloneAddress == "inet 10.0.2.15/24\n")
        let clonePort = try #require(cloneSpec.network?.publish.first?.hostPort)
        #expect(clonePort != resumedPort)
        #expect(try Self.hostGet(port: clonePort, path: "/index.html") == "served-by-the-guest\n")
        let cloneFetch = try f.service.driver.exec(cloneDir, "timeout 20 wget -q -O - http://10.0.2.2:\(allowed.port)/file", timeout: 60).stdout
        #expect(cloneFetch == "hello from the host\n")

        // Each QEMU's rules go with it.
        let cloneRules = try #require(cloneDir.process?.egress)
        let resumedRules = try #require(resumedDir.process?.egress)
        #expect(cloneRules.isInstalled && resumedRules.isInstalled && cloneRules.chain != resumedRules.chain)
        try f.service.driver.stop(cloneDir)
        try f.service.driver.stop(resumedDir)
        #expect(!cloneRules.isInstalled && !resumedRules.isInstalled)
    }

    @Test("bad --allow and --publish values are refused, naming the value")
    func badArguments() throws {
        func refused(allow: [String] = [], publish: [String] = [], _ expected: String) {
            do throws(SandboxError) {
                _ = try NetworkPolicy.parse(allow: allow, publish: publish).choosingHostPorts()
                Issue.record("accepted \(allow) \(publish)")
            } catch {
                #expect(error.description.contains(expected), "\(error)")
            }
        }
        refused(allow: ["example.org"], "--allow example.org: a destination is HOST:PORT, with a port")
        refused(allow: ["127.0.0.1:0"], "--allow 127.0.0.1:0: '0' is not a port")
        refused(allow: ["127.0.0.1:70000"], "--allow 127.0.0.1:70000: '70000' is not a port")
        refused(allow: [":80"], "--allow :80: a destination is HOST:PORT")
        refused(allow: ["no-such-host.invalid:443"], "--allow no-such-host.invalid:443: cannot resolve 'no-such-host.invalid'")
        refused(publish: ["http"], "--publish http: 'http' is not a port")
        refused(publish: ["1:2:3"], "--publish 1:2:3: give GUESTPORT or HOSTPORT:GUESTPORT")
        refused(publish: ["8080", "9000:8080"], "guest port 8080 is published twice")
        // A host port another program holds.
        let path = NSTemporaryDirectory() + "net-bad-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let holder = try HostServer("http", path, scratch: path)
        refused(publish: ["\(holder.port):80"], "--publish \(holder.port):80: host port \(holder.port) on 127.0.0.1 is in use by another program")
        // Resolved once, to addresses.
        let local = try NetworkPolicy.parse(allow: ["localhost:8080"], publish: [])
        #expect(local.allow == [EgressDestination(host: "localhost", port: 8080, addresses: ["127.0.0.1"])])
    }

    @Test("the rules of a sandbox user no process runs as are swept; the rest stay",
          .enabled(if: NetworkGuest.enforceable, "needs root and nft"))
    func sweepRemovesOrphans() throws {
        let gone = UInt32(3_016_777_000)            // in the sandbox range; nothing runs as it
        let orphan = try EgressFirewall.install(sandbox: "sweeptest\(UInt32.random(in: 0...999_999))", uid: gone, policy: NetworkPolicy())
        #expect(orphan.isInstalled)
        EgressFirewall.sweep()
        #expect(!orphan.isInstalled)
        // A chain whose user runs a process stays (a `sleep` as another id of the range: never
        // this process's own user, whose traffic the chain would cut).
        let user = UInt32(3_016_777_001)
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        sleeper.arguments = ["--reuid=\(user)", "--regid=\(user)", "--clear-groups", "/bin/sleep", "60"]
        try sleeper.run()
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        for _ in 0..<100 where !EgressFirewall.runningUsers().contains(user) { usleep(20_000) }
        let alive = try EgressFirewall.install(sandbox: "sweepkeep\(UInt32.random(in: 0...999_999))", uid: user, policy: NetworkPolicy())
        defer { alive.remove() }
        EgressFirewall.sweep()
        #expect(alive.isInstalled)
    }

    @Test("--allow is refused, never left open, where it cannot be enforced")
    func allowRefusedWithoutEnforcement() throws {
        let unconfined = VMMConfinement.forNewProcess(environment: ["STASIS_VMM_CONFINEMENT": "seccomp-only"])
        #expect(EgressFirewall.unavailableReason(for: unconfined) != nil)
        let shared = VMMConfinement.forNewProcess(environment: ["STASIS_VMM_USER": "shared"])
        if shared.uid != nil { #expect(EgressFirewall.unavailableReason(for: shared)?.contains("shared") == true) }
        var spec = SandboxSpec(id: "t", session: "s", memoryBytes: 64 << 20, vcpus: 1, accelerator: "tcg", kernelCommandLine: "",
                               mac: "02:00:00:00:00:01", vsockCID: 3, machineID: "m", disks: [], restoredFrom: nil, createdAt: Date())
        spec.network = NetworkPolicy(allow: [EgressDestination(host: "127.0.0.1", port: 80, addresses: ["127.0.0.1"])])
        #expect { _ = try QEMUCommand.installEgressRules(spec, unconfined) } throws: {
            "\($0)".contains("--allow cannot be enforced on this host") && "\($0)".contains("not started")
        }
        // Without --allow, published ports only: slirp's restrict=on holds it in.
        spec.network = NetworkPolicy(publish: [PublishedPort(guestPort: 80, requestedHostPort: nil, hostPort: 12345)])
        #expect(try QEMUCommand.installEgressRules(spec, unconfined) == nil)
        #expect(QEMUCommand.networkArguments(spec.network!, mac: spec.mac, restricted: true) ==
                ["-netdev", "user,id=net0,ipv6=off,restrict=on,hostfwd=tcp:127.0.0.1:12345-:80", "-device", "virtio-net-device,netdev=net0,mac=02:00:00:00:00:01"])
    }
}
