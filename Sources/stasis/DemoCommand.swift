import ArgumentParser
import Foundation
import StasisRestore
import StasisSandbox
import StasisSessions
import StasisStore

/// The whole story on a real VM: boot, build up state, pause, resume elsewhere, prove the state
/// survived, fork a second sandbox from the same checkpoint, replay the history.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Boot a microVM, give it state, pause it, resume it in a fresh sandbox, fork it, and replay it.",
        discussion: "Uses a new store in a temporary directory unless --store is given. Needs QEMU and the guest image (Tools/guest/build.sh). Exits 1 if any state did not survive.")
    @Option(name: .long, help: ArgumentHelp("Store directory (default: a new temporary store).", valueName: "DIR")) var store: String?
    @Option(name: .long, help: "Guest memory.") var memory = "256M"
    @Flag(name: .long, help: "Leave the sandboxes running at the end.") var keep = false
    @Flag(name: .long, help: "Print the summary as JSON.") var json = false

    func run() throws {
        let path = store ?? NSTemporaryDirectory() + "stasis-demo-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let say: (String) -> Void = { text in if !json { print(text); fflush(nil) } }
        var failures: [String] = []
        func check(_ ok: Bool, _ what: String) { say((ok ? "  ✔ " : "  ✘ ") + what); if !ok { failures.append(what) } }
        do {
            if !FileManager.default.fileExists(atPath: path + "/catalog.sqlite") { _ = try StoreOptions.parse(["--store", path]).openOrCreate() }
            let service = SandboxService(sessions: try SessionStore.open(at: path))
            // However the demo ends — success, a failed check, an error — its VMs are stopped
            // (unless --keep): nothing keeps running in the background.
            defer {
                if !keep {
                    for r in service.list() {
                        try? service.driver.stop(SandboxDirectory(path: r.directory))
                        try? FileManager.default.removeItem(atPath: r.directory)
                    }
                }
            }
            say("== 1. boot a \(memory) microVM (store \(path))")
            let t0 = Date()
            let run = try service.run(memoryBytes: Int64(ByteCount.parse(memory) ?? (256 << 20)), labels: ["demo": "true"])
            let session = run.session
            say(String(format: "  sandbox %@ (%@) answered after %.1f s", run.sandbox, run.accelerator, Date().timeIntervalSince(t0)))

            say("== 2. an agent-like task builds state in memory, on disk and in the shell")
            _ = try service.exec(session, "(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done) >/dev/null 2>&1 &")
            _ = try service.exec(session, "cd /mnt/disk && mkdir -p work && echo 'step 1 done' > work/notes.txt && sync && export TASK=refactor-parser")
            usleep(500_000)
            let before = Int(try service.exec(session, "cat /tmp/counter").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            say("  counter=\(before), /mnt/disk/work/notes.txt written, TASK set, cwd /mnt/disk")

            say("== 3. pause: one checkpoint of memory, device state and disk; the VM is freed")
            let paused = try service.checkpoint(session, stop: true)
            say(String(format: "  checkpoint %@: downtime %.0f ms, durable after %.0f ms", String(paused.checkpoint.prefix(12)), paused.downtimeMs, paused.durableMs))

            say("== 4. resume in a fresh sandbox")
            let resumed = try service.resume(session)
            say(String(format: "  sandbox %@: files %.2f s, start to answering %.2f s", resumed.plan.identity.sandbox, resumed.materializeSeconds, resumed.startSeconds))
            let c1 = Int(try service.exec(session, "cat /tmp/counter").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            usleep(700_000)
            let c2 = Int(try service.exec(session, "cat /tmp/counter").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            check(c1 >= before && c2 > c1, "the counter process continues (\(before) before the pause, \(c1) then \(c2) after)")
            check(try service.exec(session, "cat work/notes.txt").stdout == "step 1 done\n", "the file on disk is there")
            check(try service.exec(session, "echo $TASK $(pwd)").stdout == "refactor-parser /mnt/disk\n", "the shell state survived (variable and working directory)")

            say("== 5. fork: a second sandbox from the same checkpoint, independent of the first")
            let fork = try service.restore(paused.checkpoint, start: true)   // a fork: its own session
            _ = try service.exec(session, "echo original > fork-test.txt && sync")
            let forkDir = SandboxDirectory(path: fork.plan.directory)
            let inFork = try service.driver.exec(forkDir, "cat /mnt/disk/fork-test.txt 2>&1; echo $TASK; cat /tmp/counter", timeout: 30)
            check(!inFork.stdout.contains("original") && inFork.stdout.contains("refactor-parser"),
                  "the fork has the checkpoint's state and not the original's later writes (fork saw: \(inFork.stdout.replacingOccurrences(of: "\n", with: " | ")) \(inFork.stderr))")
            check(fork.plan.identity.mac != resumed.plan.identity.mac && fork.plan.identity.sandbox != resumed.plan.identity.sandbox, "the fork has its own identity (MAC \(fork.plan.identity.mac))")

            say("== 6. replay the session")
            let frames = try service.sessions.replayFrames(session, renderer: ReplayRenderer(styled: false, maxPause: 0))
            if !json { for f in frames { print(f.text.replacingOccurrences(of: "\r\n", with: "\n"), terminator: "") } }
            check(try service.sessions.verifyHistory(session).ok, "the session's history verifies (hash chain, Merkle tree, signatures)")
            if json {
                CommandOutput.json(["session": session, "checkpoint": paused.checkpoint, "failures": failures.joined(separator: "; "),
                                    "downtime_ms": String(format: "%.1f", paused.downtimeMs), "resume_start_s": String(format: "%.2f", resumed.startSeconds)])
            }
        } catch {
            CommandOutput.warn("error: \(error)")
            throw ExitCode(1)
        }
        if !failures.isEmpty { throw ExitCode(1) }
        say("demo complete: every state survived")
    }
}

extension StoreOptions {
    /// Opens the store, creating it first if it does not exist (the demo's own store).
    func openOrCreate() throws -> Bool {
        if FileManager.default.fileExists(atPath: storePath + "/catalog.sqlite") { return false }
        _ = try StasisStore.ContentStore.create(at: storePath)
        return true
    }
}
