import Foundation
import StasisAPI
import StasisSandbox
import Synchronization

/// A command's stdin as it arrives on a gRPC stream, for `ExecInput`, whose `read` is called on
/// the command's blocking thread: `take` waits for the next bytes, and returns nil at the end.
final class StdinQueue: Sendable {
    private struct State {
        var chunks: [[UInt8]] = []
        var closed = false
    }
    private let state = Mutex(State())
    /// One signal per chunk put, and one for the close.
    private let available = DispatchSemaphore(value: 0)

    func put(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        let accepted = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.chunks.append(bytes)
            return true
        }
        if accepted { available.signal() }
    }

    /// The end of stdin (again: nothing).
    func close() {
        let first = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        if first { available.signal() }
    }

    func take() -> [UInt8]? {
        available.wait()
        return state.withLock { s -> [UInt8]? in
            guard !s.chunks.isEmpty else {
                // Closed: leave the signal for the next call, which ends too.
                available.signal()
                return nil
            }
            return s.chunks.removeFirst()
        }
    }

    var input: ExecInput { ExecInput { self.take() } }
}

/// Output of a command running on a blocking thread, handed to the async writer of a gRPC stream.
/// At most `capacity` messages wait at once: when the client reads slower than the guest writes,
/// the command's thread waits (and with it the guest's output), instead of the daemon's memory
/// filling. When the client is gone, `send` fails, which ends the command's relay.
final class ExecOutbox: Sendable {
    let messages: AsyncStream<Stasis_V1_ExecStreamResponse>
    private let feed: AsyncStream<Stasis_V1_ExecStreamResponse>.Continuation
    private let credits: DispatchSemaphore
    private let abandoned = Mutex(false)

    init(capacity: Int = 32) {
        (messages, feed) = AsyncStream<Stasis_V1_ExecStreamResponse>.makeStream()
        // Created at 0 and raised: libdispatch stops a process that frees a semaphore whose
        // count is below the one it was created with, which an abandoned stream leaves.
        credits = DispatchSemaphore(value: 0)
        for _ in 0..<capacity { credits.signal() }
    }

    /// Called on the command's thread for each chunk of output.
    func send(_ stream: ExecStream, _ bytes: [UInt8]) throws(SandboxError) {
        credits.wait()
        if abandoned.withLock({ $0 }) {
            credits.signal()
            throw .io("the client of this exec stream went away", EPIPE)
        }
        var message = Stasis_V1_ExecStreamResponse()
        if stream == .stdout { message.stdout = Data(bytes) } else { message.stderr = Data(bytes) }
        feed.yield(message)
    }

    /// The writer sent one message: room for another.
    func written() { credits.signal() }

    /// No more output will come.
    func finish() { feed.finish() }

    /// The writer stopped (the client went away): every `send` from now on fails, and one
    /// waiting for room wakes up.
    func abandon() {
        abandoned.withLock { $0 = true }
        feed.finish()
        credits.signal()
    }
}
