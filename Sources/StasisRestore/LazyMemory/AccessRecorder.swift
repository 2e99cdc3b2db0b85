import Foundation
import Synchronization

/// Records the order in which the guest first touches the chunks of its memory file: every
/// READ or WRITE the kernel sends the page server names the chunks the guest (or QEMU loading
/// it) needs, first touches first. What the background hydrator fetches is not a touch.
///
/// The window: from the mount (QEMU's own loading and the guest's first instructions fault in
/// the pages that matter most) until `closeAfterHandOff` seconds after the hand-off, or
/// `limit` chunks, whichever comes first. Ten seconds covers, under TCG, the guest answering
/// its agent and a first command or two; beyond that what a guest touches depends on what it
/// is asked to do, and the hydrator fetches it anyway. The limit keeps an order to a size
/// worth prefetching: 64 MiB of chunks (16,384 of the store's default 4 KiB chunks).
final class AccessRecorder: Sendable {
    static let defaultWindow = PageServer.defaultOrderSeconds
    static let defaultLimitBytes = 64 << 20
    static func defaultLimit(chunkSize: Int) -> Int { max(1, defaultLimitBytes / max(1, chunkSize)) }

    struct State {
        var seen: [UInt64]
        var order: [Int] = []
        var open = true
        var taken = false
    }

    let limit: Int
    let closeAfterHandOff: Double
    private let state: Mutex<State>

    init(chunkCount: Int, limit: Int, closeAfterHandOff: Double = defaultWindow) {
        self.limit = limit
        self.closeAfterHandOff = closeAfterHandOff
        state = Mutex(State(seen: [UInt64](repeating: 0, count: (chunkCount + 63) / 64)))
    }

    /// Notes a touch of `chunks` (called by the FUSE thread for each READ and WRITE).
    func touched(_ chunks: ClosedRange<Int>) {
        state.withLock { s in
            guard s.open else { return }
            for c in chunks where s.seen[c >> 6] & (1 << UInt64(c & 63)) == 0 {
                s.seen[c >> 6] |= 1 << UInt64(c & 63)
                s.order.append(c)
                if s.order.count >= limit { s.open = false; return }
            }
        }
    }

    /// Ends the window; returns the order recorded to the first caller only (nil after), so
    /// that it is stored once.
    func close() -> [Int]? {
        state.withLock { s in
            s.open = false
            guard !s.taken else { return nil }
            s.taken = true
            return s.order
        }
    }

    var isOpen: Bool { state.withLock { $0.open } }
}
