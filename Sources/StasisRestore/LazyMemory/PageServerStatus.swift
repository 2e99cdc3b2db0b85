import Foundation
import StasisSandbox

/// What a lazily restored sandbox's page server says about itself, in `memory.json` of the
/// sandbox directory (replaced whole on each change): which process serves the memory file, how
/// much of it is local, and why it failed if it did. `sandbox ls` shows it.
public struct PageServerStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Mounted; chunks are fetched as the guest touches them.
        case serving
        /// The VM runs; the rest is being fetched in the background.
        case hydrating
        /// Every chunk is local: from now on nothing is read from the store.
        case hydrated
        /// A chunk could not be read or verified, or the page server died: the VM was stopped.
        case failed
        /// Unmounted after its VM ended.
        case stopped
    }

    public var state: State
    /// The page server process (its pid and the kernel's start time of that pid).
    public var pid: Int32
    public var startTime: UInt64
    public var image: String
    public var chunks: Int
    public var localChunks: Int
    /// Chunks the guest has written since the restore (the overlay's dirty map).
    public var dirtyChunks: Int
    public var fetchedBytes: Int64
    /// Milliseconds from the hand-off (the VM runs) to hydrated.
    public var hydrationMs: Double?
    /// Why it failed: names the chunk and the cause.
    public var error: String?
    /// Chunks of the checkpoint's recorded access order this restore prefetches (nil: none).
    public var prefetchChunks: Int?
    /// Milliseconds from the mount to the end of the prefetch.
    public var prefetchMs: Double?
    /// Chunks of the access order this restore recorded and stored (nil: none recorded yet).
    public var recordedChunks: Int?
    /// Why a recorded order was not used, or why recording one failed (the restore goes on).
    public var orderWarning: String?

    public static func path(_ dir: SandboxDirectory) -> String { dir.path + "/memory.json" }
    public static func overlayPath(_ dir: SandboxDirectory) -> String { dir.path + "/guest.mem.overlay" }

    public static func load(_ dir: SandboxDirectory) -> PageServerStatus? {
        guard let data = FileManager.default.contents(atPath: path(dir)) else { return nil }
        return try? JSONDecoder().decode(PageServerStatus.self, from: data)
    }

    /// Written to a temporary name and renamed, so a reader sees the old or the new status whole.
    public func save(_ dir: SandboxDirectory) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return }
        let temp = Self.path(dir) + ".tmp"
        if FileManager.default.createFile(atPath: temp, contents: data, attributes: [.posixPermissions: 0o600]) {
            rename(temp, Self.path(dir))
        }
    }

    /// Whether the recorded page server process still runs.
    public var isRunning: Bool {
        guard let s = ProcessStatus.read(pid), s.startTime == startTime else { return false }
        if s.state == "Z" {
            // Our own child (the restore started it): reap it.
            var code: Int32 = 0
            _ = waitpid(pid, &code, WNOHANG)
            return false
        }
        return true
    }

    /// For `sandbox ls`: "eager" files have no status; here "lazy: 42% local", "hydrated",
    /// "failed: …".
    public var summary: String {
        switch state {
        case .hydrated: return "hydrated"
        case .failed: return "failed: " + (error ?? "unknown")
        case .stopped: return "stopped"
        case .serving, .hydrating:
            let percent = chunks == 0 ? 100 : localChunks * 100 / chunks
            return "lazy: \(percent)% local"
        }
    }
}
