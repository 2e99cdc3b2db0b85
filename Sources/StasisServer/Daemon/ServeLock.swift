import Foundation
import StasisIO

/// One daemon per store: the graph writer's chunk cache is only true while no other process
/// writes the graph tables. An exclusive flock on STORE/serve.lock, holding the owner's pid.
final class ServeLock: Sendable {
    private let lock: FileLock

    init(store: String) throws(DaemonError) {
        let path = store + "/serve.lock"
        do {
            lock = try FileLock(path: path, kind: .exclusive, wait: false)
        } catch {
            let pid = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            throw .alreadyServing(store: store, detail: "pid \(pid) holds \(path)")
        }
        try? "\(getpid())\n".write(toFile: path, atomically: false, encoding: .utf8)
    }

    func release() { lock.unlock() }
}
