import Foundation
import StasisStoreTestSupport
import Testing
@testable import StasisRestore
@testable import StasisSandbox
@testable import StasisSessions
import StasisStore
import StasisTemplates

/// Sandboxes from a template, on real microVMs. The template is an OCI image the test writes:
/// this host's python3 with the libraries it links and its `encodings` package (a program the
/// busybox guest does not have), plus a layer with a working directory and a whiteout.
/// Invariants: the guest switches into the template's root and runs its programs with the
/// config's Env and WorkingDir; a file written to the root survives pause and resume (and the
/// resumed guest is still in the template); ten sandboxes' root disks store far less than one
/// template.
/// Real boots cost minutes under TCG: the suite runs on the SQLite run only; the templates table
/// on PostgreSQL is covered by TemplateBuildTests, which run on both.
@Suite("Sandboxes from templates", .serialized, .enabled(if: MicroVM.available, "needs QEMU and the guest image (Tools/guest/build.sh)"),
       .enabled(if: TestStores.engine == .sqlite, "real boots: on the SQLite run only"))
struct TemplateSandboxTests {
    final class Fixture {
        let path = NSTemporaryDirectory() + "tsb-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let service: SandboxService
        let templates: TemplateStore
        init() throws {
            let store = try TestStores.create(at: path + "/s")
            service = SandboxService(sessions: SessionStore(store: store), sandboxesDirectory: path + "/x")
            templates = TemplateStore(store: store, cacheDirectory: path + "/cache")
        }
        deinit {
            for r in service.list() { try? service.driver.stop(SandboxDirectory(path: r.directory)) }
            try? FileManager.default.removeItem(atPath: path)
        }
        func out(_ session: String, _ command: String) throws -> String {
            let r = try service.exec(session, command)
            #expect(r.exitCode == 0, "\(command): exit \(r.exitCode), stderr \(r.stderr)")
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// python3 of this host with what it needs to start (`-I -S`), as an OCI image.
        func pythonTemplate(_ name: String) throws -> TemplateRecord {
            let tree = path + "/pytree"
            let script = """
                set -e
                T=\(tree)
                mkdir -p $T/usr/bin $T/usr/lib/python3.11 $T/etc
                cp /usr/bin/python3.11 $T/usr/bin/ && ln -s python3.11 $T/usr/bin/python3
                for l in $(ldd /usr/bin/python3.11 | grep -o '/[^ ]*'); do mkdir -p $T$(dirname $l); cp -L $l $T$l; done
                cp -r /usr/lib/python3.11/encodings $T/usr/lib/python3.11/
                find $T -name __pycache__ -prune -exec rm -rf {} +
                echo 'stays hidden' > $T/etc/gone
                """
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", script]
            try p.run()
            p.waitUntilExit()
            try #require(p.terminationStatus == 0, "could not copy python3 into a tree")
            let layers = path + "/app.json"
            let entries: [[String: Any]] = [["path": "etc/.wh.gone"], ["path": "app/hello.txt", "data": "hello from the image\n"]]
            try JSONSerialization.data(withJSONObject: entries).write(to: URL(fileURLWithPath: layers))
            let out = path + "/image"
            let make = Process()
            make.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            make.arguments = [Self.script, out, "--layer", tree, "--layer-json", layers,
                              "--env", "PATH=/usr/local/bin:/usr/bin:/bin", "--env", "GREETING=hi from the template", "--workdir", "/app"]
            make.standardOutput = FileHandle.nullDevice
            try make.run()
            make.waitUntilExit()
            try #require(make.terminationStatus == 0)
            return try templates.build(name, from: .oci(path: out)).template
        }

        static var script: String {
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Tools/oci/make-oci.py").path
        }
    }

    @Test("the template's programs, Env and WorkingDir; pause and resume keep a file written to the root")
    func runsInTemplate() throws {
        let f = try Fixture()
        let template = try f.pythonTemplate("py")
        // Two vCPUs (multi-threaded TCG) and a root disk grown beyond the template's (resize2fs).
        let run = try f.service.run(template: "py", memoryBytes: 256 << 20, diskBytes: 1 << 30, vcpus: 2)
        #expect(run.template == "py")
        let s = run.session
        #expect(try f.out(s, "nproc") == "2")
        #expect(Int(try f.out(s, "df -k / | tail -1 | awk '{print $2}'")) ?? 0 > 900_000)
        #expect(try f.out(s, "python3 -I -S -c 'import os; print(os.getcwd(), os.environ[\"GREETING\"])'") == "/app hi from the template")
        #expect(try f.out(s, "pwd; cat hello.txt") == "/app\nhello from the image")
        // The whiteout hid the lower layer's file; the busybox guest's own /mnt/disk is not here.
        #expect(try f.out(s, "test ! -e /etc/gone && test ! -e /mnt/disk && echo hidden") == "hidden")
        #expect(try f.out(s, "echo 'written before the pause' > /app/state.txt; cd /usr; export MARK=7; echo ok") == "ok")

        let paused = try f.service.checkpoint(s, stop: true)
        let checkpoint = try f.service.sessions.checkpoint(paused.checkpoint)
        // The checkpoint's root disk stores what the sandbox changed, not the template again.
        let disk = try #require(try f.service.sessions.store.catalog.image(checkpoint.record.images["disk:root"]!))
        let base = try #require(try f.service.sessions.store.catalog.image(template.imageID))
        #expect(disk.newBytes < base.dataBytes / 10, "the checkpoint's root disk added \(disk.newBytes) bytes; the template holds \(base.dataBytes)")

        _ = try f.service.resume(s)
        #expect(try f.out(s, "cat /app/state.txt; pwd; echo $MARK") == "written before the pause\n/usr\n7")
        #expect(try f.out(s, "python3 -I -S -c 'print(6 * 7)'") == "42")
        _ = try f.service.stop(s, unsaved: .discard)
    }

    @Test("ten sandboxes from one template add less than a tenth of it to the store")
    func tenSandboxes() throws {
        let f = try Fixture()
        let template = try f.pythonTemplate("py")
        let store = f.service.sessions.store
        let templateBytes = try #require(try store.catalog.image(template.imageID)).dataBytes
        var diskBytes: Int64 = 0
        for i in 0..<10 {
            let run = try f.service.run(template: "py", memoryBytes: 128 << 20)
            #expect(try f.out(run.session, "echo sandbox \(i) > /app/mine.txt; cat /app/mine.txt") == "sandbox \(i)")
            let paused = try f.service.checkpoint(run.session, stop: true)
            let record = try f.service.sessions.checkpoint(paused.checkpoint).record
            diskBytes += try #require(try store.catalog.image(record.images["disk:root"]!)).newBytes
        }
        #expect(diskBytes < templateBytes / 10, "ten sandboxes' root disks added \(diskBytes) bytes to the store; the template holds \(templateBytes)")
        print("ten sandboxes' root disks added \(diskBytes) bytes; the template holds \(templateBytes)")
    }

    @Test("a warm template: new sandboxes resume its first boot, each in a session of its own")
    func warmTemplate() throws {
        let f = try Fixture()
        _ = try f.pythonTemplate("py")
        let warm = try f.service.warm(template: "py", memoryBytes: 256 << 20)
        #expect(try f.templates.template("py").warmCheckpoint == warm.checkpoint)
        let a = try f.service.run(template: "py", memoryBytes: 256 << 20)
        let b = try f.service.run(template: "py", memoryBytes: 256 << 20)
        #expect(a.restoredFrom == warm.checkpoint && b.restoredFrom == warm.checkpoint)
        #expect(a.session != b.session && a.sandbox != b.sandbox && a.template == "py")
        #expect(try f.out(a.session, "python3 -I -S -c 'import os; print(os.getcwd(), os.environ[\"GREETING\"])'") == "/app hi from the template")
        #expect(try f.out(a.session, "echo mine > /app/a.txt; cat /app/a.txt") == "mine")
        #expect(try f.service.exec(b.session, "test -e /app/a.txt").exitCode == 1, "two sandboxes from one warm checkpoint share a file")
        // Another memory size boots (the warm checkpoint's memory is what it is).
        let c = try f.service.run(template: "py", memoryBytes: 128 << 20)
        #expect(c.restoredFrom == nil && c.template == "py")
        // The session that made the warm checkpoint is not a paused session to resume.
        #expect(try f.service.resumable().isEmpty)
    }

    @Test("a template sandbox with a network: the card is up in the template's root (busybox's tools), and a warm template is booted instead",
          .enabled(if: NetworkGuest.available, "needs a guest image with virtio_net"))
    func networkInTemplate() throws {
        let f = try Fixture()
        _ = try f.pythonTemplate("py")
        _ = try f.service.warm(template: "py", memoryBytes: 256 << 20)
        // The warm checkpoint has no network card: a sandbox with one boots.
        let run = try f.service.run(template: "py", memoryBytes: 256 << 20, network: NetworkPolicy())
        #expect(run.restoredFrom == nil && run.network == NetworkPolicy())
        let spec = try SandboxDirectory(path: run.directory).loadSpec()
        #expect(try f.out(run.session, "cat /sys/class/net/eth0/address; ip -4 addr show dev eth0 | grep -o 'inet [0-9./]*'") == "\(spec.mac)\ninet 10.0.2.15/24")
        let paused = try f.service.checkpoint(run.session, stop: true)
        let clone = try f.service.restore(paused.checkpoint, start: true)
        let cloneSpec = try SandboxDirectory(path: clone.plan.directory).loadSpec()
        #expect(cloneSpec.network == NetworkPolicy() && cloneSpec.mac != spec.mac)
        let seen = try f.service.driver.exec(SandboxDirectory(path: clone.plan.directory), "cat /sys/class/net/eth0/address", timeout: 30).stdout
        #expect(seen == cloneSpec.mac + "\n")
    }

    @Test("an unknown template is refused before anything starts")
    func unknownTemplate() throws {
        let f = try Fixture()
        #expect(throws: SandboxError.self) { try f.service.run(template: "nope") }
        #expect(f.service.list().isEmpty)
        #expect(try f.service.sessions.sessions().isEmpty)
    }
}
