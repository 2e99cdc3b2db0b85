import ArgumentParser
import Foundation
import StasisRestore
import StasisSandbox
import StasisSessions

extension StoreOptions {
    func sandboxService() throws(SandboxError) -> SandboxService {
        // Lazy restores run this binary as their page server (`sandbox page-server`).
        do { return SandboxService(sessions: try openSessions(), pageServer: PageServerLauncher.currentExecutable) } catch { throw .store(error.description, cause: error) }
    }
}

struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run microVM sandboxes; checkpoint, pause and resume them.",
        discussion: """
            QEMU microvm with RAM in a file-backed memory backend, an ext4 disk and a guest agent on a \
            virtio console. KVM is used when a boot probe shows it works here, TCG otherwise (the \
            accelerator is recorded on every checkpoint). Build the guest once with Tools/guest/build.sh.
            """,
        subcommands: [SandboxRunCommand.self, SandboxCheckpointCommand.self, SandboxPauseCommand.self,
                      SandboxResumeCommand.self, SandboxListCommand.self, SandboxStopCommand.self, SandboxPageServerCommand.self])
}

struct SandboxRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Create a session and boot its VM; print the session id.",
        discussion: """
            Without --template the guest is the busybox guest image with an empty ext4 disk at \
            /mnt/disk. With --template NAME (`stasis template ls`) the guest switches into a private \
            copy of the template's root disk: commands run there, with the template's Env and \
            WorkingDir, and checkpoints store only what the sandbox changed. A warm template \
            (`stasis template warm`) with the same --memory and --cpus is resumed instead of \
            booted (--cold boots anyway).

            Network (Formats/sandbox-config.md, "network"): --network gives the guest a virtio-net \
            card on QEMU's user-mode network with every outbound connection refused; --allow \
            HOST:PORT (repeatable) opens TCP to that destination (HOST resolved once, now; \
            127.0.0.1:PORT is reached from the guest as 10.0.2.2:PORT), enforced by the kernel \
            (root and nftables needed, else the sandbox is refused); --publish [HOSTPORT:]GUESTPORT \
            (repeatable) forwards 127.0.0.1:HOSTPORT on this host (a free port if not given; printed, \
            and in --json) to the guest's port. Both imply --network. Restores and forks keep the \
            policy, with a new MAC and new host ports.
            """)
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: ArgumentHelp("Boot this template's root filesystem (`stasis template ls`).", valueName: "NAME")) var template: String?
    @Option(name: .long, help: "Guest memory (e.g. 256M, 1G).") var memory = "256M"
    @Option(name: .long, help: "Size of the guest's ext4 disk (sparse; default 1G, or the template's size; a template's disk only grows).") var disk: String?
    @Option(name: .long, help: "Virtual CPUs (multi-threaded TCG when KVM is not usable).") var cpus = 1
    @Flag(name: .long, help: "Boot the template even when it is warm (`stasis template warm`).") var cold = false
    @Option(name: .long, help: ArgumentHelp("Boot for this existing session instead of a new one.", valueName: "SESSION")) var session: String?
    @Option(name: .long, help: ArgumentHelp("A label NAME=VALUE for the new session (repeatable).", valueName: "NAME=VALUE")) var label: [String] = []
    @Flag(name: .long, help: "A network card; outbound connections are refused unless --allow opens them.") var network = false
    @Option(name: .long, help: ArgumentHelp("Let the guest open TCP connections to HOST:PORT (repeatable; implies --network).", valueName: "HOST:PORT")) var allow: [String] = []
    @Option(name: .long, help: ArgumentHelp("Forward 127.0.0.1:HOSTPORT of this host to GUESTPORT in the guest (repeatable; implies --network).", valueName: "[HOSTPORT:]GUESTPORT")) var publish: [String] = []

    func validate() throws {
        guard ByteCount.parse(memory) != nil else { throw ValidationError("--memory '\(memory)' is not a size") }
        if let disk, ByteCount.parse(disk) == nil { throw ValidationError("--disk '\(disk)' is not a size") }
        guard (1...16).contains(cpus) else { throw ValidationError("--cpus must be from 1 to 16") }
    }

    func run() throws {
        let labels = try CommandOutput.pairs(label, option: "--label")
        try CommandOutput.run(json: options.json) { () throws(SandboxError) in
            // Bad values are refused before anything starts (names resolved, ports checked).
            let policy = network || !allow.isEmpty || !publish.isEmpty ? try NetworkPolicy.parse(allow: allow, publish: publish) : nil
            let r = try options.sandboxService().run(session: session, template: template, memoryBytes: Int64(ByteCount.parse(memory)!),
                                                     diskBytes: disk.map { Int64(ByteCount.parse($0)!) }, vcpus: cpus, labels: labels,
                                                     useWarm: !cold, network: policy)
            if options.json { CommandOutput.json(r) } else {
                CommandOutput.line(r.session)
                CommandOutput.warn("sandbox \(r.sandbox) running (\(r.accelerator), \(r.memoryBytes >> 20) MiB\(r.template.map { ", template \($0)" } ?? "")) in \(r.directory)")
                if let n = r.network { CommandOutput.warn(n.summary) }
            }
        }
    }
}

struct SandboxCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoint a running sandbox (one pause: device state, memory, disk) and continue it.",
        discussion: "The downtime (stop → cont) and the time until the checkpoint is durable are recorded on it.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session (or sandbox) id or prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: ArgumentHelp("A label NAME=VALUE (repeatable).", valueName: "NAME=VALUE")) var label: [String] = []

    func run() throws {
        let labels = try CommandOutput.pairs(label, option: "--label")
        try CommandOutput.run(json: options.json) { () throws(SandboxError) in
            let r = try options.sandboxService().checkpoint(session, labels: labels, progress: options.progress)
            if options.json { CommandOutput.json(r) } else {
                CommandOutput.line(r.checkpoint)
                CommandOutput.warn(String(format: "downtime %.0f ms, durable after %.0f ms, %@ stored", r.downtimeMs, r.durableMs, ByteCount.format(r.storedBytes)))
            }
        }
    }
}

struct SandboxPauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Checkpoint a sandbox and stop it, freeing the VM.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session (or sandbox) id or prefix.", valueName: "SESSION")) var session: String

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(SandboxError) in
            let r = try options.sandboxService().checkpoint(session, stop: true, progress: options.progress)
            if options.json { CommandOutput.json(r) } else {
                CommandOutput.line(r.checkpoint)
                CommandOutput.warn(String(format: "paused: downtime %.0f ms, durable after %.0f ms; `stasis sandbox resume %@` continues it", r.downtimeMs, r.durableMs, r.session))
            }
        }
    }
}

struct SandboxResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Restore a session's checkpoint into a fresh sandbox and continue it.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session id or prefix.", valueName: "SESSION")) var session: String
    @Option(name: .long, help: ArgumentHelp("Which checkpoint (default: the latest).", valueName: "CHECKPOINT")) var checkpoint: String?
    @Flag(name: .long, help: "Resume a session that another host of a fleet store claims to run, because that host is gone for good (else refused, naming the host).")
    var takeOver = false
    @Flag(name: .long, help: "Write all of guest memory before the VM starts, instead of serving it on first touch (lazy, the default).")
    var eager = false

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(SandboxError) in
            let r = try options.sandboxService().resume(session, checkpoint: checkpoint, takeOver: takeOver, eager: eager, progress: options.progress)
            if options.json { CommandOutput.json(r) } else {
                CommandOutput.line(r.plan.identity.sandbox)
                CommandOutput.warn(String(format: "resumed checkpoint %@ in sandbox %@: files %.2f s, start to answering %.2f s", String(r.plan.checkpoint.prefix(12)), r.plan.identity.sandbox, r.materializeSeconds, r.startSeconds))
                // The checkpoint's policy, with this start's host ports.
                if let n = (try? SandboxDirectory(path: r.plan.directory).loadSpec())?.network { CommandOutput.warn(n.summary) }
            }
        }
    }
}

struct SandboxListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List sandboxes on this host, and paused sessions (`sandbox resume` continues them).",
        discussion: "With --json: {\"sandboxes\": [...], \"paused\": [...]}; a paused session names the checkpoint a resume starts from.")
    @OptionGroup var options: StoreOptions

    struct Listing: Encodable {
        var sandboxes: [SandboxService.Running]
        var paused: [SandboxService.Resumable]
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(SandboxError) in
            let service = try options.sandboxService()
            let listing = Listing(sandboxes: service.list(), paused: try service.resumable())
            if options.json { CommandOutput.json(listing); return }
            if listing.sandboxes.isEmpty && listing.paused.isEmpty { CommandOutput.line("no sandboxes and no paused sessions"); return }
            for s in listing.sandboxes {
                CommandOutput.line("\(s.sandbox)  session \(s.session.prefix(12))  \(s.pid.map { "running (pid \($0))" } ?? "stopped")  \(s.accelerator)  \(s.memoryBytes >> 20) MiB\(s.memory.map { " (memory \($0))" } ?? "")\(s.restoredFrom.map { "  from \($0.prefix(12))" } ?? "")\(s.network.map { "  \($0.summary)" } ?? "")")
            }
            for p in listing.paused {
                CommandOutput.line("session \(p.session.prefix(12))  paused at \(p.checkpoint.prefix(12)) (\(ISO8601DateFormatter().string(from: p.checkpointedAt)))  `stasis sandbox resume \(p.session.prefix(12))`")
            }
        }
    }
}

struct SandboxStopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a sandbox and remove its directory (checkpoints stay).",
        discussion: """
            A running sandbox whose session did something after its last checkpoint (commands, \
            output, files, tool calls, messages) is not stopped: `stasis sandbox pause` keeps that \
            work; --checkpoint takes a checkpoint first; --discard throws it away.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Session (or sandbox) id or prefix.", valueName: "SESSION")) var session: String
    @Flag(name: .long, help: "Checkpoint the sandbox first (the same as pause).") var checkpoint = false
    @Flag(name: .long, help: "Throw away what happened since the last checkpoint.") var discard = false

    func validate() throws {
        if checkpoint && discard { throw ValidationError("--checkpoint and --discard contradict each other: give one") }
    }

    func run() throws {
        let unsaved: SandboxService.UnsavedWork = checkpoint ? .checkpoint : discard ? .discard : .refuse
        try CommandOutput.run(json: options.json) { () throws(SandboxError) in
            let id = try options.sandboxService().stop(session, unsaved: unsaved)
            if options.json { CommandOutput.json(["stopped": id]) } else { CommandOutput.line("stopped \(id)") }
        }
    }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Plan or carry out the restore of a checkpoint into a fresh, isolated sandbox.",
        subcommands: [RestoreRunCommand.self, RestorePlanCommand.self],
        defaultSubcommand: RestoreRunCommand.self)
}

struct RestorePlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Show what a restore would do (nothing is changed).")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Checkpoint id or prefix.", valueName: "CHECKPOINT")) var checkpoint: String
    @Flag(name: .long, help: "Explain the plan for a person.") var explain = false
    @Flag(name: .long, help: "Plan an eager restore (all memory written before the VM starts) instead of a lazy one.") var eager = false
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(SandboxError) in
            let plan = try options.sandboxService().plan(checkpoint, eager: eager)
            if options.json || !explain { CommandOutput.json(plan) } else { CommandOutput.line(plan.explanation) }
        }
    }
}

struct RestoreRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Restore a checkpoint; with --start, start the VM.")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Checkpoint id or prefix.", valueName: "CHECKPOINT")) var checkpoint: String
    @Flag(name: .long, help: "Start the VM from the restored files and continue it.") var start = false
    @Option(name: .long, help: ArgumentHelp("Sandbox directory to create (must not exist).", valueName: "DIR")) var directory: String?
    @Flag(name: .long, help: "With --start: write all of guest memory before the VM starts, instead of serving it on first touch (lazy, the default).")
    var eager = false
    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(SandboxError) in
            let r = try options.sandboxService().restore(checkpoint, start: start, directory: directory, eager: eager, progress: options.progress)
            if options.json { CommandOutput.json(r) } else {
                CommandOutput.line(r.plan.identity.sandbox)
                for c in r.checks { CommandOutput.warn("checked: \(c)") }
                CommandOutput.warn(start ? String(format: "running: files %.2f s, start %.2f s", r.materializeSeconds, r.startSeconds)
                                         : "restored into \(r.plan.directory) (not started; run with --start)")
            }
        }
    }
}
