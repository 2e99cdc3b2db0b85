import ArgumentParser
import Foundation
import StasisRestore
import StasisSandbox
import StasisStore
import StasisTemplates

extension StoreOptions {
    func templates() throws(TemplateError) -> TemplateStore {
        do {
            return TemplateStore(store: try open(),
                                 cacheDirectory: ProcessInfo.processInfo.environment["STASIS_TEMPLATE_CACHE"] ?? "/var/cache/stasis/templates")
        } catch { throw .store(error) }
    }
}

struct TemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Build, list, show and remove sandbox templates (root filesystems from container images or Debian).",
        discussion: """
            A template is an ext4 root disk in the store, made from an OCI image layout, a \
            `docker save` tarball, or Debian packages (debootstrap). `stasis sandbox run --template \
            NAME` boots it: the guest's init switches into it and the agent runs inside it, with \
            the image config's Env and WorkingDir. Formats/template.md describes the details.
            """,
        subcommands: [TemplateBuildCommand.self, TemplateWarmCommand.self, TemplateListCommand.self, TemplateShowCommand.self,
                      TemplateRemoveCommand.self])
}

struct TemplateBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Make a template from an OCI image (directory or tarball) or from Debian packages.",
        usage: "stasis template build NAME --oci DIR|TAR\nstasis template build NAME --debian SUITE [--packages P1,P2,...]",
        discussion: """
            --oci takes an OCI image layout directory (oci-layout, index.json, blobs/) or a tarball \
            from `docker save` (either form). Layers are checked against their digests and applied \
            in order with their whiteouts (.wh.NAME and .wh..wh..opq); entries with '..' paths, \
            symlinks that point out of the root, paths through symlinks and device nodes are \
            refused, naming the layer and entry. The config's Env, WorkingDir, User and Cmd are \
            recorded.

            --debian runs `debootstrap --variant=minbase` (with --packages added) from --mirror, \
            once per suite and package set: the tree is cached in $STASIS_TEMPLATE_CACHE (default \
            /var/cache/stasis/templates).

            Nothing is stored unless the whole build succeeds. Templates that share files share \
            chunks in the store.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("The template's name (lower-case letters, digits, '.', '_', '-').", valueName: "NAME")) var name: String
    @Option(name: .long, help: ArgumentHelp("An OCI image layout directory or a `docker save` tarball.", valueName: "DIR|TAR")) var oci: String?
    @Option(name: .long, help: ArgumentHelp("A Debian suite to debootstrap (e.g. bookworm).", valueName: "SUITE")) var debian: String?
    @Option(name: .long, help: ArgumentHelp("Debian packages to add, comma-separated (with --debian).", valueName: "P1,P2")) var packages: String?
    @Option(name: .long, help: ArgumentHelp("The Debian mirror (with --debian).", valueName: "URL")) var mirror = "http://deb.debian.org/debian"
    @Flag(name: .long, help: "Then boot it once and keep that checkpoint (`stasis template warm`).") var warm = false
    @Option(name: .long, help: "Guest memory of the warm checkpoint (with --warm).") var memory = "512M"

    func validate() throws {
        switch (oci, debian) {
        case (nil, nil): throw ValidationError("give the source: --oci DIR|TAR or --debian SUITE")
        case (.some, .some): throw ValidationError("give one source: --oci or --debian, not both")
        default: break
        }
        if packages != nil && debian == nil { throw ValidationError("--packages goes with --debian") }
        guard let m = ByteCount.parse(memory), m >= 64 << 20, m % (1 << 20) == 0 else { throw ValidationError("--memory '\(memory)' must be whole MiB, at least 64M") }
    }

    func run() throws {
        let source: TemplateSource
        if let oci {
            source = .oci(path: URL(fileURLWithPath: oci).standardizedFileURL.path)
        } else {
            let list = (packages ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            source = .debian(suite: debian!, packages: list, mirror: mirror)
        }
        try CommandOutput.run(json: options.json) { () throws(TemplateError) in
            let quiet = options.json
            let r = try options.templates().build(name, from: source, progress: options.progress) { if !quiet { CommandOutput.warn($0) } }
            // With --warm, one JSON document: the warm step's, which names the template.
            if options.json { if !warm { CommandOutput.json(r) }; return }
            CommandOutput.line(r.template.name)
            CommandOutput.warn("template \(r.template.name): image \(r.template.imageID.prefix(12)), \(ByteCount.format(r.template.size)) disk, " +
                               "\(ByteCount.format(r.template.dataBytes)) of files, \(ByteCount.format(r.storedBytes)) new in the store" +
                               (r.layers > 0 ? ", \(r.layers) layer(s)" : "") + String(format: ", %.1f s", r.seconds))
        }
        if warm { try TemplateWarmCommand.warm(name, memory: Int64(ByteCount.parse(memory)!), cpus: 1, options: options) }
    }
}

struct TemplateWarmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Boot a template once and keep that checkpoint, so that new sandboxes resume instead of booting.",
        discussion: """
            `stasis sandbox run --template NAME` with the same --memory and --cpus then restores \
            this checkpoint into a new session (a fork of the first boot with a new identity) \
            instead of booting the kernel. Warming again replaces the checkpoint.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Template name.", valueName: "NAME")) var name: String
    @Option(name: .long, help: "Guest memory of the warm sandboxes.") var memory = "512M"
    @Option(name: .long, help: "Virtual CPUs of the warm sandboxes.") var cpus = 1

    func validate() throws {
        guard let m = ByteCount.parse(memory), m >= 64 << 20, m % (1 << 20) == 0 else { throw ValidationError("--memory '\(memory)' must be whole MiB, at least 64M") }
        guard (1...16).contains(cpus) else { throw ValidationError("--cpus must be from 1 to 16") }
    }

    func run() throws { try Self.warm(name, memory: Int64(ByteCount.parse(memory)!), cpus: cpus, options: options) }

    static func warm(_ name: String, memory: Int64, cpus: Int, options: StoreOptions) throws {
        try CommandOutput.run(json: options.json) { () throws(SandboxError) in
            let r = try options.sandboxService().warm(template: name, memoryBytes: memory, vcpus: cpus, progress: options.progress)
            if options.json { CommandOutput.json(["template": name, "warm_checkpoint": r.checkpoint]); return }
            CommandOutput.warn("template \(name) is warm: checkpoint \(r.checkpoint.prefix(12)) of its first boot (\(memory >> 20) MiB, \(cpus) CPU)")
        }
    }
}

struct TemplateListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List templates.")
    @OptionGroup var options: StoreOptions

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(TemplateError) in
            let all = try options.templates().list()
            if options.json { CommandOutput.json(all); return }
            if all.isEmpty { CommandOutput.line("no templates: `stasis template build NAME --oci DIR` or `--debian bookworm` makes one"); return }
            for t in all {
                CommandOutput.line("\(t.name)  image \(t.imageID.prefix(12))  \(ByteCount.format(t.dataBytes)) of files  \(t.source)\(t.warmCheckpoint == nil ? "" : "  warm")")
            }
        }
    }
}

struct TemplateShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a template: its image, source and config (Env, WorkingDir, User, Cmd).")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Template name.", valueName: "NAME")) var name: String

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(TemplateError) in
            let t = try options.templates().template(name)
            if options.json { CommandOutput.json(t); return }
            CommandOutput.line("""
                name        \(t.name)
                image       \(t.imageID)
                source      \(t.source)
                disk        \(ByteCount.format(t.size)) (\(ByteCount.format(t.dataBytes)) of files)
                created     \(ISO8601DateFormatter().string(from: t.createdAt))
                workdir     \(t.config.workingDir)
                user        \(t.config.user.isEmpty ? "root" : t.config.user) (\(t.config.uid):\(t.config.gid))
                cmd         \(t.config.cmd.joined(separator: " "))
                entrypoint  \(t.config.entrypoint.joined(separator: " "))
                warm        \(t.warmCheckpoint ?? "no")
                """)
            for e in t.config.env { CommandOutput.line("env         \(e)") }
        }
    }
}

struct TemplateRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove a template (its chunks are freed by `stasis gc` unless a checkpoint or another template holds them).")
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("Template name.", valueName: "NAME")) var name: String

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(TemplateError) in
            let t = try options.templates().remove(name)
            if options.json { CommandOutput.json(["removed": t.name]) } else { CommandOutput.line("removed \(t.name)") }
        }
    }
}
