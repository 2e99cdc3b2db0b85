import ArgumentParser
import Foundation
import StasisJSON
import StasisRestore
import StasisSandbox
import StasisSessions
import StasisStore

/// `stasis-bench sandbox`: checkpoint and restore of real QEMU microVMs, per guest memory size:
/// cold boot, checkpoint downtime (every pause of the guest, summed) and time until durable,
/// bytes stored by a second checkpoint after the guest dirties ~5% of its memory, and restore
/// until the guest answers — cold (no local base) and patching a local ancestor. With
/// `--fill-percent`, the guest first holds that share of its memory in tmpfs (half random
/// bytes, half text) while a writer keeps dirtying memory. `--capture live,stopped` measures
/// both checkpoint methods side by side. `--lazy` also restores cold with memory served on
/// first touch (Formats/lazy-restore.md), and measures the time until it is hydrated (every chunk
/// local); it needs the `stasis` binary beside this one (its page server). One JSON line per
/// measurement.
struct SandboxBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sandbox", abstract: "MicroVM checkpoint/restore benchmark.")

    @Option(help: "Guest memory sizes in MiB, comma-separated.") var memory = "256,1024"
    @Option(help: "Repetitions per size.") var runs = 3
    @Option(help: "Work directory (default: a temporary one, removed afterwards).") var work: String?
    @Option(help: "Share of guest memory to fill with data (in tmpfs) before the first checkpoint, in percent.") var fillPercent = 0
    @Option(help: "Checkpoint methods to measure, comma-separated: live (the guest runs while memory is copied), stopped.") var capture = "live"
    @Flag(help: "Also measure a lazy restore (memory served on first touch) and its time to full hydration.") var lazy = false

    /// The page server for `--lazy`: the `stasis` binary built beside `stasis-bench`.
    var pageServer: PageServerLauncher? {
        guard lazy, let me = PageServerLauncher.currentExecutable else { return nil }
        return PageServerLauncher(executable: (me.executable as NSString).deletingLastPathComponent + "/stasis")
    }

    func run() throws {
        let dir = work ?? NSTemporaryDirectory() + "stasis-sandbox-bench-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        defer { if work == nil { try? FileManager.default.removeItem(atPath: dir) } }
        for mib in memory.split(separator: ",").compactMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) {
            for run in 1...runs {
                for method in capture.split(separator: ",").map(String.init) {
                    guard ["live", "stopped"].contains(method) else { throw ValidationError("--capture: unknown method '\(method)' (live, stopped)") }
                    try measure(mib: mib, run: run, live: method == "live", dir: dir + "/\(mib)-\(run)-\(method)")
                }
            }
        }
    }

    func emit(_ o: [String: JSONValue]) {
        print(JSONValue.object(o).canonicalString)
        fflush(nil)
    }

    func measure(mib: Int64, run: Int, live: Bool, dir: String) throws {
        let store = try ContentStore.create(at: dir + "/store")
        let service = SandboxService(sessions: SessionStore(store: store), driver: QEMUMicrovmDriver(liveCheckpoints: live),
                                     sandboxesDirectory: dir + "/sandboxes", pageServer: pageServer)
        defer {
            for r in service.list() {
                try? service.driver.stop(SandboxDirectory(path: r.directory))
                PageServerLauncher.release(SandboxDirectory(path: r.directory))
            }
        }
        func ms(_ since: Date) -> Double { (Date().timeIntervalSince(since) * 100_000).rounded() / 100 }

        var t = Date()
        let started = try service.run(memoryBytes: mib << 20, diskBytes: 1 << 30)
        let boot = ms(t)
        let s = started.session
        // Some state: a busy process and files in RAM (tmpfs) and on disk.
        _ = try service.exec(s, "(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.2; done) >/dev/null 2>&1 & dd if=/dev/urandom of=/tmp/warm bs=1M count=8 2>/dev/null; echo w > /mnt/disk/w; sync")
        let fillMiB = mib * Int64(fillPercent) / 100
        if fillMiB > 0 {
            // Half random bytes, half text (numbers, one per line); tmpfs pages are guest RAM.
            _ = try service.exec(s, "mkdir -p /tmp/fill && dd if=/dev/urandom of=/tmp/fill/random bs=1M count=\(fillMiB / 2) 2>/dev/null; "
                                  + "seq 1 \(fillMiB / 2 * 1024 * 1024 / 8) > /tmp/fill/text; echo filled", timeout: 1800)
        }
        let first = try service.checkpoint(s)
        // Dirty about 5% of guest memory (tmpfs pages are guest RAM), then checkpoint again.
        let dirtyMiB = max(1, mib * 5 / 100)
        // (A new file: where tmpfs is full — it holds half of RAM — dd stops short, and the
        // figure says so.)
        let dirtied = try service.exec(s, "dd if=/dev/urandom of=/tmp/dirty bs=1M count=\(dirtyMiB) 2>/dev/null && echo done").stdout.contains("done")
        let second = try service.checkpoint(s)
        let paused = try service.checkpoint(s, stop: true)

        // Restore patching the local ancestor (the paused copies are bases on this host).
        t = Date()
        let patched = try service.resume(s, checkpoint: paused.checkpoint, eager: true)
        let patchedMs = ms(t)
        _ = try service.stop(s, unsaved: .discard)
        // Cold: no local base.
        try? FileManager.default.removeItem(atPath: store.layout.root + "/cache")
        t = Date()
        let cold = try service.resume(s, checkpoint: paused.checkpoint, eager: true)
        let coldMs = ms(t)
        let answers = (try? service.exec(s, "cat /tmp/counter").exitCode) == 0
        _ = try service.stop(s, unsaved: .discard)
        var lazyFigures: [String: JSONValue] = [:]
        if pageServer != nil {
            // Lazy, from a cold host cache (no local base for the disks either): to answering,
            // then to every chunk local. The first lazy restore of the checkpoint records its
            // access order.
            try? FileManager.default.removeItem(atPath: store.layout.root + "/cache")
            let first = try lazyRestore(service, s, paused.checkpoint, prefix: "restore_lazy", waitForOrder: true)
            lazyFigures = first.figures
            lazyFigures["restore_cold_files_ms"] = .double((cold.materializeSeconds * 100_000).rounded() / 100)
            // A second checkpoint of the lazily restored guest after it dirties ~5%: only the
            // dirty map is read (Formats/lazy-restore.md).
            // Rewritten in place (the fill's random bytes, else the first dirty file): the same
            // share of memory changes without tmpfs growing.
            let lazyDirtied = try service.exec(s, "f=/tmp/fill/random; [ -f $f ] || f=/tmp/dirty; dd if=/dev/urandom of=$f bs=1M count=\(dirtyMiB) conv=notrunc 2>/dev/null && echo done").stdout.contains("done")
            lazyFigures["lazy_checkpoint_dirtied_ok"] = .bool(lazyDirtied)
            let lazyCheckpoint = try service.checkpoint(s)
            lazyFigures["lazy_checkpoint_downtime_ms"] = .double(lazyCheckpoint.downtimeMs)
            lazyFigures["lazy_checkpoint_durable_ms"] = .double(lazyCheckpoint.durableMs)
            lazyFigures["lazy_checkpoint_read_bytes"] = .int(lazyCheckpoint.memoryReadBytes ?? -1)
            lazyFigures["lazy_checkpoint_stored_bytes"] = .int(lazyCheckpoint.storedBytes)
            lazyFigures["lazy_checkpoint_dirty_map"] = .bool(lazyCheckpoint.memoryBase != nil)
            _ = try service.stop(s, unsaved: .discard)
            // The same checkpoint again, cold, now with its recorded order prefetched.
            try? FileManager.default.removeItem(atPath: store.layout.root + "/cache")
            let second = try lazyRestore(service, s, paused.checkpoint, prefix: "restore_prefetch", waitForOrder: false)
            lazyFigures.merge(second.figures) { a, _ in a }
            _ = try service.stop(s, unsaved: .discard)
        }

        emit(["memory_mib": .int(mib), "run": .int(Int64(run)), "accelerator": .string(started.accelerator),
              "capture": .string(live ? "live" : "stopped"), "fill_mib": .int(fillMiB),
              "cold_boot_ms": .double(boot),
              "checkpoint1_downtime_ms": .double(first.downtimeMs), "checkpoint1_durable_ms": .double(first.durableMs),
              "checkpoint1_stored_bytes": .int(first.storedBytes),
              "checkpoint2_downtime_ms": .double(second.downtimeMs), "checkpoint2_durable_ms": .double(second.durableMs),
              "checkpoint2_stored_bytes": .int(second.storedBytes), "dirtied_mib": .int(dirtyMiB), "dirtied_ok": .bool(dirtied),
              "restore_patched_ms": .double(patchedMs), "restore_patched_start_ms": .double((patched.startSeconds * 100_000).rounded() / 100),
              "restore_cold_ms": .double(coldMs), "restore_cold_start_ms": .double((cold.startSeconds * 100_000).rounded() / 100),
              "patched_from_base": .bool(!patched.patchedFromBase.isEmpty), "guest_answered": .bool(answers)].merging(lazyFigures) { a, _ in a })
    }

    /// A lazy restore of `checkpoint` into session `s`: to answering, then to hydrated (and, with
    /// `waitForOrder`, until its access order is stored). Figures are named `PREFIX_…`; the
    /// sandbox is left running.
    func lazyRestore(_ service: SandboxService, _ s: String, _ checkpoint: String, prefix: String,
                     waitForOrder: Bool) throws -> (figures: [String: JSONValue], status: PageServerStatus?) {
        func ms(_ since: Date) -> Double { (Date().timeIntervalSince(since) * 100_000).rounded() / 100 }
        let t = Date()
        let lazy = try service.resume(s, checkpoint: checkpoint)
        let lazyMs = ms(t)
        let answers = (try? service.exec(s, "cat /tmp/counter").exitCode) == 0
        let sandbox = SandboxDirectory(path: lazy.plan.directory)
        var status = PageServerStatus.load(sandbox)
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline, let st = status, st.state == .serving || st.state == .hydrating {
            usleep(10_000)
            status = PageServerStatus.load(sandbox)
        }
        let hydratedMs = ms(t)
        while waitForOrder, Date() < deadline, let st = status, st.recordedChunks == nil, st.orderWarning == nil, st.state == .hydrated {
            usleep(50_000)
            status = PageServerStatus.load(sandbox)
        }
        let figures: [String: JSONValue] = [
            prefix + "_ms": .double(lazyMs), prefix + "_start_ms": .double((lazy.startSeconds * 100_000).rounded() / 100),
            prefix + "_files_ms": .double((lazy.materializeSeconds * 100_000).rounded() / 100),
            prefix + "_hydrated": .bool(status?.state == .hydrated), prefix + "_hydration_ms": status?.hydrationMs.map { .double($0) } ?? .null,
            prefix + "_to_hydrated_ms": .double(hydratedMs), prefix + "_guest_answered": .bool(answers),
            prefix + "_prefetch_chunks": .int(Int64(status?.prefetchChunks ?? 0)), prefix + "_prefetch_ms": status?.prefetchMs.map { .double($0) } ?? .null,
            prefix + "_recorded_chunks": .int(Int64(status?.recordedChunks ?? 0)),
        ]
        return (figures, status)
    }
}
