import Foundation
import StasisJSON

/// A QEMU Machine Protocol client: one JSON object per line; asynchronous events (objects with
/// an `event` key) are kept aside, never mistaken for a reply.
final class QMPClient {
    private let socket: UnixSocket
    private(set) var events: [JSONValue] = []

    /// Connects and negotiates capabilities.
    init(path: String, timeout: TimeInterval = 10) throws(SandboxError) {
        let deadline = Date().addingTimeInterval(timeout)
        socket = try UnixSocket.connect(path, until: deadline)
        let greeting = try JSONValue.parseQMP(try socket.readLine(until: deadline)).objectValue
        guard greeting?["QMP"] != nil else { throw .qmp(command: "greeting", message: "not a QMP greeting on \(path)") }
        _ = try execute("qmp_capabilities")
    }

    /// Runs a command and returns its `return` value, or throws its `error`. `passing` attaches a
    /// descriptor to the command (for `getfd`).
    @discardableResult
    func execute(_ command: String, _ arguments: [String: JSONValue] = [:], passing descriptor: Int32? = nil,
                 timeout: TimeInterval = 30) throws(SandboxError) -> JSONValue {
        var request: [String: JSONValue] = ["execute": .string(command)]
        if !arguments.isEmpty { request["arguments"] = .object(arguments) }
        let line = JSONValue.object(request).canonicalString + "\n"
        if let descriptor { try socket.send(line, passing: descriptor) } else { try socket.send(line) }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let line = try socket.readLine(until: deadline)
            guard let reply = try? JSONValue.parseQMP(line) else { continue }
            if reply["event"] != nil { events.append(reply); continue }
            if let error = reply["error"] {
                throw .qmp(command: command, message: error["desc"]?.stringValue ?? error.canonicalString)
            }
            return reply["return"] ?? .null
        }
    }
}

extension QMPClient {
    /// Hands QEMU an open file under `name` (QMP `getfd`), for a migration URI `fd:NAME`: QEMU
    /// reads or writes the stream without opening a path or starting a program, which its
    /// seccomp filter (`spawn=deny`) and its unprivileged user would not allow.
    func passFile(_ descriptor: Int32, as name: String) throws(SandboxError) {
        try execute("getfd", ["fdname": .string(name)], passing: descriptor)
    }
}

extension JSONValue {
    /// Parses one QMP line; a line that is not JSON is a protocol error naming what was read.
    static func parseQMP(_ text: String) throws(SandboxError) -> JSONValue {
        do { return try JSONValue.parse(Array(text.utf8)) } catch { throw .qmp(command: "read", message: error.description) }
    }
}
