import Foundation
import StasisJSON
import StasisSandbox
import StasisSessions

/// Turns a command's streamed output into `output` events (Formats/history.md): each event holds
/// what one stream sent between two flushes, stamped with the arrival of its first byte. A flush
/// is due after `flushBytes` or `flushInterval`, so a long command's output lands in the history
/// while it runs, in a few large events rather than thousands of small ones. Bytes are never
/// changed: text that is valid UTF-8 is stored as is (a character cut between two chunks waits
/// for its end), anything else as base64 with `"encoding": "base64"`.
final class ExecOutputRecorder {
    private struct Pending {
        var stream: ExecStream
        var time: Int64
        var bytes: [UInt8]
    }

    let command: String
    let flushBytes: Int
    let flushInterval: TimeInterval
    private var pending: [Pending] = []
    private var pendingBytes = 0
    private var lastFlush = Date()
    /// An unfinished UTF-8 character at the end of a stream's last event, carried to its next.
    private var carry: [ExecStream: [UInt8]] = [:]

    init(command: String, flushBytes: Int = 1 << 20, flushInterval: TimeInterval = 0.25) {
        self.command = command
        self.flushBytes = flushBytes
        self.flushInterval = flushInterval
    }

    /// Adds a chunk; returns the events to record when a flush is due.
    func add(_ stream: ExecStream, _ chunk: [UInt8]) -> [EventInput]? {
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        if pending.last?.stream == stream { pending[pending.count - 1].bytes += chunk } else {
            pending.append(Pending(stream: stream, time: now, bytes: chunk))
        }
        pendingBytes += chunk.count
        guard pendingBytes >= flushBytes || Date().timeIntervalSince(lastFlush) >= flushInterval else { return nil }
        return events(final: false)
    }

    /// Everything not yet recorded (at the end of the command).
    func flush() -> [EventInput] { events(final: true) }

    private func events(final: Bool) -> [EventInput] {
        var out: [EventInput] = []
        for p in pending {
            var bytes = (carry.removeValue(forKey: p.stream) ?? []) + p.bytes
            if !final {
                let cut = Self.unfinishedCharacter(bytes)
                if cut < bytes.count {
                    carry[p.stream] = Array(bytes[cut...])
                    bytes.removeSubrange(cut...)
                }
            }
            if !bytes.isEmpty { out.append(Self.event(p.stream, bytes, time: p.time, command: command)) }
        }
        if final {
            for (stream, bytes) in carry.sorted(by: { $0.key.rawValue > $1.key.rawValue }) where !bytes.isEmpty {
                out.append(Self.event(stream, bytes, time: Int64(Date().timeIntervalSince1970 * 1e9), command: command))
            }
            carry = [:]
        }
        pending = []
        pendingBytes = 0
        lastFlush = Date()
        return out
    }

    static func event(_ stream: ExecStream, _ bytes: [UInt8], time: Int64, command: String) -> EventInput {
        var data: [String: JSONValue] = ["stream": .string(stream.rawValue), "id": .string(command)]
        if let text = String(validating: bytes, as: UTF8.self) {
            data["data"] = .string(text)
        } else {
            data["data"] = .string(Data(bytes).base64EncodedString())
            data["encoding"] = "base64"
        }
        return EventInput(kind: .output, time: time, data: data)
    }

    /// Where a UTF-8 character that the bytes do not finish starts (`bytes.count` when the last
    /// character is whole, or the tail is not UTF-8 at all).
    static func unfinishedCharacter(_ bytes: [UInt8]) -> Int {
        guard !bytes.isEmpty else { return 0 }
        for back in 1...min(4, bytes.count) {
            let i = bytes.count - back
            let b = bytes[i]
            if b & 0xC0 == 0x80 { continue }            // a continuation byte: look further back
            let length = b >= 0xF0 && b <= 0xF7 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            return length > back ? i : bytes.count
        }
        return bytes.count
    }
}
