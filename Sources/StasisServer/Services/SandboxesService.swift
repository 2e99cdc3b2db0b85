import Foundation
import GRPCCore
import StasisAPI
import StasisRestore
import StasisSandbox

/// Sandboxes for agent platforms: the same lifecycle as `stasis sandbox ...`, over the socket.
/// Each call runs on a blocking thread: booting or restoring a VM takes from a fraction of a second
/// to several seconds.
struct SandboxesService: Stasis_V1_Sandboxes.SimpleServiceProtocol {
    let service: SandboxService

    func call<T: Sendable>(_ body: @escaping @Sendable () throws(SandboxError) -> T) async throws -> T {
        try await Offload.run { () throws -> T in
            return try body()
        }
    }

    static func required(_ value: String, _ field: String) throws {
        guard !value.isEmpty else { throw RPCError.invalid(field, "must not be empty") }
    }

    func run(request: Stasis_V1_RunSandboxRequest, context: ServerContext) async throws -> Stasis_V1_Sandbox {
        let s = service, r = request
        let running = try await call { () throws(SandboxError) in
            let network = r.network || !r.allow.isEmpty || !r.publish.isEmpty
                ? try NetworkPolicy.parse(allow: r.allow, publish: r.publish) : nil
            let template = r.template.isEmpty ? nil : r.template
            return try s.run(session: r.session.isEmpty ? nil : r.session, template: template,
                             memoryBytes: r.memoryBytes == 0 ? 256 << 20 : r.memoryBytes,
                             diskBytes: r.diskBytes == 0 ? nil : r.diskBytes,
                             vcpus: r.cpus == 0 ? 1 : Int(r.cpus), labels: r.labels, network: network)
        }
        return .init(running)
    }

    func checkpoint(request: Stasis_V1_SandboxCheckpointRequest, context: ServerContext) async throws -> Stasis_V1_SandboxCheckpoint {
        try Self.required(request.sandbox, "sandbox")
        let s = service, r = request
        return .init(try await call { () throws(SandboxError) in try s.checkpoint(r.sandbox, stop: false, labels: r.labels) })
    }

    func pause(request: Stasis_V1_SandboxRequest, context: ServerContext) async throws -> Stasis_V1_SandboxCheckpoint {
        try Self.required(request.sandbox, "sandbox")
        let s = service, r = request
        return .init(try await call { () throws(SandboxError) in try s.checkpoint(r.sandbox, stop: true) })
    }

    func resume(request: Stasis_V1_ResumeRequest, context: ServerContext) async throws -> Stasis_V1_Sandbox {
        try Self.required(request.session, "session")
        let s = service, r = request
        let result = try await call { () throws(SandboxError) in
            try s.resume(r.session, checkpoint: r.checkpoint.isEmpty ? nil : r.checkpoint, eager: r.eager)
        }
        return try await started(result)
    }

    func restore(request: Stasis_V1_RestoreRequest, context: ServerContext) async throws -> Stasis_V1_Sandbox {
        try Self.required(request.checkpoint, "checkpoint")
        let s = service, r = request
        let result = try await call { () throws(SandboxError) in try s.restore(r.checkpoint, start: true, eager: r.eager) }
        return try await started(result)
    }

    /// The sandbox a restore started, as listed.
    private func started(_ result: RestoreResult) async throws -> Stasis_V1_Sandbox {
        let directory = result.plan.directory
        guard let running = service.list().first(where: { $0.directory == directory }) else {
            throw RPCError(code: .internalError, message: "the restored sandbox at \(directory) is not listed")
        }
        var out = Stasis_V1_Sandbox(running)
        out.restoreMs = (result.materializeSeconds + result.startSeconds) * 1000
        return out
    }

    func list(request: Stasis_V1_ListSandboxesRequest, context: ServerContext) async throws -> Stasis_V1_ListSandboxesResponse {
        var r = Stasis_V1_ListSandboxesResponse()
        r.sandboxes = service.list().map { .init($0) }
        return r
    }

    func stop(request: Stasis_V1_SandboxRequest, context: ServerContext) async throws -> Stasis_V1_StopSandboxResponse {
        try Self.required(request.sandbox, "sandbox")
        let s = service, r = request
        var out = Stasis_V1_StopSandboxResponse()
        out.sandbox = try await call { () throws(SandboxError) in try s.stop(r.sandbox, unsaved: .discard) }
        return out
    }
}

extension Stasis_V1_Sandbox {
    init(_ r: SandboxService.Running) {
        self.init()
        id = r.sandbox
        session = r.session
        directory = r.directory
        pid = r.pid ?? 0
        memoryBytes = r.memoryBytes
        accelerator = r.accelerator
        restoredFrom = r.restoredFrom ?? ""
        if let policy = r.network { network = .init(policy) }
    }
}

extension Stasis_V1_SandboxNetwork {
    init(_ policy: NetworkPolicy) {
        self.init()
        allow = policy.allow.map { "\($0.host):\($0.port)" }
        allowedAddresses = policy.allowedEndpoints.map { "\($0.address):\($0.port)" }
        publish = policy.publish.map { p in
            var out = Stasis_V1_PublishedPort()
            out.guestPort = UInt32(p.guestPort)
            out.hostPort = UInt32(p.hostPort)
            return out
        }
    }
}

extension Stasis_V1_SandboxCheckpoint {
    init(_ c: SandboxService.CheckpointResult) {
        self.init()
        checkpoint = c.checkpoint
        session = c.session
        downtimeMs = c.downtimeMs
        durableMs = c.durableMs
        storedBytes = c.storedBytes
        stopped = c.stopped
    }
}
