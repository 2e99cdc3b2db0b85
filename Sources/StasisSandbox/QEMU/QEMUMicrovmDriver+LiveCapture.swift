import Foundation
import StasisIO
import StasisJSON

/// Live checkpoints: the guest keeps running while its memory is copied.
///
/// QEMU migrates the running guest — RAM included — into a pipe; its own dirty tracking re-sends
/// what the guest writes meanwhile, and it stops the guest only for the last few pages and the
/// device state (`downtime-limit`). `PrecopyStreamSplitter` turns the stream into the memory
/// image and the x-ignore-shared device-state stream that restores load, so checkpoints taken
/// this way restore exactly like stopped ones. The disks are copied during that short stop, so
/// they hold what the memory holds. Why not the other mechanisms: soft-dirty page tracking is
/// not built into these hosts' kernels, and QEMU's `background-snapshot` needs a userfaultfd
/// in QEMU, which its confinement (an unprivileged user, `vm.unprivileged_userfaultfd = 0`)
/// rightly does not grant.
extension QEMUMicrovmDriver {
    /// The memory-backend object whose RAM block is the shared memory file (`QEMUCommand`).
    static let sharedRAMBlock = "mem"

    enum LiveOutcome {
        case captured(CapturedState)
        /// QEMU or the stream did something the splitter does not take apart; the guest runs
        /// on, unchanged, and the caller takes a stopped copy instead.
        case refused(String)
    }

    /// One live checkpoint into `scratch`, or the reason it could not be one. Throws only when
    /// QEMU itself fails (it exited, it does not answer).
    func captureLive(_ spec: SandboxSpec, _ dir: SandboxDirectory, _ qmp: QMPClient, into scratch: String,
                     guestSync: String) throws(SandboxError) -> LiveOutcome {
        try qmp.execute("migrate-set-capabilities", ["capabilities": [["capability": "x-ignore-shared", "state": false]]])
        defer { try? Self.prepareMigration(qmp) }
        try qmp.execute("migrate-set-parameters", ["max-bandwidth": .int(Int64(1) << 40), "downtime-limit": .int(Self.downtimeLimitMs)])

        let pipe: (read: FileDescriptor, write: FileDescriptor)
        do { pipe = try Pipe.open() } catch { throw .io("create a pipe for the migration stream", error.errno.rawValue) }
        let split = StreamSplit(descriptor: pipe.read.rawValue,
                                splitter: PrecopyStreamSplitter(sharedBlock: Self.sharedRAMBlock, memoryPath: scratch + "/guest.mem"))
        do throws(SandboxError) {
            defer { pipe.write.close() }
            try qmp.passFile(pipe.write.rawValue, as: "state")
        } catch {
            pipe.read.close()
            throw error
        }
        split.start()
        let started = Date()
        do {
            try qmp.execute("migrate", ["uri": "fd:state"])
        } catch {
            if case .qmp = error { return .refused("\(error); \(split.wait().failure.map { "\($0)" } ?? "")") }
            throw error
        }
        let migration: JSONValue
        do {
            migration = try Self.waitPrecopy(qmp, started: started)
        } catch {
            let outcome = split.wait()
            if case .qmp = error { return .refused(outcome.failure.map { "\($0)" } ?? "\(error)") }
            throw error
        }
        let completed = Date()
        let outcome = split.wait()
        guard let result = outcome.result else {
            // QEMU finished but the copy is unusable (the scratch disk is full, say): let the
            // guest go on and report why.
            try qmp.execute("cont")
            return .refused(outcome.failure.map { "\($0)" } ?? "the stream reader stopped")
        }

        // The guest is stopped (QEMU's post-migration state): make the image exact, copy the
        // disks, then continue.
        var copied = Int64(result.memoryPagesWritten) * Int64(MemoryImageWriter.pageSize)
        var disks: [String: String] = [:]
        let reconciled: MemoryImageReconciler.Outcome
        do {
            reconciled = try MemoryImageReconciler.reconcile(image: scratch + "/guest.mem", truth: dir.memory)
        } catch {
            try qmp.execute("cont")
            return .refused("\(error)")
        }
        copied += Int64(reconciled.pagesPatched) * Int64(MemoryImageWriter.pageSize)
        do throws(SandboxError) {
            faultHook?("capture.paused", dir)
            let state = scratch + "/state.bin"
            guard FileManager.default.createFile(atPath: state, contents: Data(result.deviceState), attributes: [.posixPermissions: 0o600]) else {
                throw .io("write \(state)", EIO)
            }
            copied += try Self.copyDisks(spec, dir, into: scratch, recording: &disks)
        } catch {
            _ = try? qmp.execute("cont")
            throw error
        }
        try qmp.execute("cont")
        let downtime = Self.pausedMilliseconds(qmp.events) ?? (migration["downtime"]?.doubleValue ?? 0) + Date().timeIntervalSince(completed) * 1000
        return .captured(CapturedState(memory: scratch + "/guest.mem", disks: disks, state: scratch + "/state.bin", downtimeMs: downtime,
                                       bytesCopied: copied, guestSync: guestSync,
                                       memoryCapture: .live(precopyMs: completed.timeIntervalSince(started) * 1000, pageRecords: result.pageRecords,
                                                            pagesPatchedAtStop: reconciled.pagesPatched)))
    }

    /// How long QEMU may stop the guest for the last pages, in ms. It decides from the rate the
    /// pipe drains; a guest that dirties memory faster than that never converges, so the limit
    /// is raised in steps, and after `precopyGiveUp` the migration is cancelled (the guest runs on).
    static let downtimeLimitMs: Int64 = 20
    static let downtimeSteps: [(after: TimeInterval, limitMs: Int64)] = [(10, 200), (30, 2_000)]
    static let precopyGiveUp: TimeInterval = 120

    static func waitPrecopy(_ qmp: QMPClient, started: Date) throws(SandboxError) -> JSONValue {
        var steps = downtimeSteps[...]
        while true {
            let s = try qmp.execute("query-migrate")
            switch s["status"]?.stringValue {
            case "completed": return s
            case "failed", "cancelled":
                throw .qmp(command: "migrate", message: "live copy \(s["status"]!.stringValue!): \(s["error-desc"]?.stringValue ?? "no detail")")
            default:
                let elapsed = Date().timeIntervalSince(started)
                if let step = steps.first, elapsed > step.after {
                    try qmp.execute("migrate-set-parameters", ["downtime-limit": .int(step.limitMs)])
                    steps = steps.dropFirst()
                }
                if elapsed > precopyGiveUp {
                    _ = try? qmp.execute("migrate_cancel")
                    throw .qmp(command: "migrate", message: "live copy did not converge in \(Int(precopyGiveUp)) s")
                }
                usleep(2_000)
            }
        }
    }

    /// The time the guest spent stopped, from QEMU's own STOP and RESUME event timestamps: the
    /// sum over every STOP…RESUME pair, or nil when the events are incomplete.
    static func pausedMilliseconds(_ events: [JSONValue]) -> Double? {
        var total = 0.0, stoppedAt: Double?, pairs = 0
        for event in events {
            guard let name = event["event"]?.stringValue, let stamp = event["timestamp"],
                  let seconds = stamp["seconds"]?.doubleValue, let micros = stamp["microseconds"]?.doubleValue else { continue }
            let ms = seconds * 1000 + micros / 1000
            if name == "STOP" { stoppedAt = ms }
            if name == "RESUME", let stop = stoppedAt { total += ms - stop; stoppedAt = nil; pairs += 1 }
        }
        return pairs > 0 && stoppedAt == nil ? total : nil
    }
}

/// The stream reader on a thread of its own: QEMU writes while the QMP loop polls.
final class StreamSplit: @unchecked Sendable {
    struct Outcome {
        var result: PrecopyStreamSplitter.Result?
        var failure: MigrationStreamError?
    }
    private let descriptor: Int32
    private let splitter: PrecopyStreamSplitter
    private let done = DispatchSemaphore(value: 0)
    // Written by the reader thread before `done` is signalled, read after waiting on it.
    private var outcome = Outcome()
    private var waited = false

    init(descriptor: Int32, splitter: PrecopyStreamSplitter) {
        self.descriptor = descriptor
        self.splitter = splitter
    }

    func start() {
        let thread = Thread { [self] in
            var reader = MigrationStreamReader(descriptor: descriptor)
            do throws(MigrationStreamError) {
                outcome.result = try splitter.split(&reader)
            } catch {
                outcome.failure = error
            }
            // Closing makes QEMU's next write fail, so a refused stream ends the migration.
            close(descriptor)
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    func wait() -> Outcome {
        if !waited { done.wait(); waited = true }
        return outcome
    }
}
