import Foundation
import StasisStoreTestSupport
import StasisStore
@testable import StasisSessions

final class TemporaryStore {
    let path: String
    let sessions: SessionStore
    init() throws {
        path = NSTemporaryDirectory() + "stasis-sessions-" + UUID().uuidString.prefix(8)
        sessions = SessionStore(store: try TestStores.create(at: path + "/store"))
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
    func write(_ bytes: [UInt8], _ name: String) -> String {
        FileManager.default.createFile(atPath: file(name), contents: Data(bytes))
        return file(name)
    }
}

struct Rng {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// Random but valid events of every kind.
func randomEvents(_ count: Int, _ rng: inout Rng) -> [EventInput] {
    (0..<count).map { i in
        let t = Int64(1_790_000_000_000_000_000) + Int64(i) * 1_000_000 + Int64(rng.below(1000))
        switch rng.below(6) {
        case 0: return EventInput(kind: .commandStarted, time: t, data: ["command": .string("make test \(rng.next())")])
        case 1: return EventInput(kind: .output, time: t, data: ["stream": "stdout", "data": .string("line \(rng.next())\n")])
        case 2: return EventInput(kind: .commandExited, time: t, data: ["code": .int(Int64(rng.below(3))), "duration_ms": .int(Int64(rng.below(5000)))])
        case 3: return EventInput(kind: .toolCall, time: t, data: ["name": "search", "arguments": ["q": .string("x\(rng.next())")]])
        case 4: return EventInput(kind: .message, time: t, data: ["role": "assistant", "content": .string("thinking \(rng.next())")])
        default: return EventInput(kind: .note, time: t, data: ["text": .string("note \(rng.next())")])
        }
    }
}
