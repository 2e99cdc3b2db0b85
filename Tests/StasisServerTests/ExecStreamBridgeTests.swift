import Foundation
import StasisSandbox
import Testing
@testable import StasisServer

/// The two hand-overs of a streamed exec between the command's blocking thread and the gRPC
/// stream. Invariants checked:
/// - stdin comes out in order, then nil for every later read, however many readers ask;
///   nothing put after the close comes out;
/// - output is delivered in order and whole; when the writer goes away, a command blocked for
///   room wakes up with an error instead of waiting forever, and so does every later send.
@Suite("exec stream hand-overs")
struct ExecStreamBridgeTests {
    /// Runs `body`, which blocks (as the command's side does in the daemon, on its own queue), on
    /// a thread of its own: blocked in a task, it would hold one of the few threads that every
    /// test of the process shares, and could stall all of them.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    @Test("stdin in order, then the end for every read")
    func stdinQueue() async throws {
        let q = StdinQueue()
        let reader = Task { await Self.onThread { () -> [[UInt8]] in
            var got: [[UInt8]] = []
            while let chunk = q.take() { got.append(chunk) }
            return got
        } }
        for i in 0..<100 { q.put([UInt8(i), UInt8(i)]) }
        q.put([])   // nothing: not a chunk
        q.close()
        q.put([9])  // after the close: dropped
        #expect(await reader.value == (0..<100).map { [UInt8($0), UInt8($0)] })
        #expect(q.take() == nil)
        #expect(q.take() == nil)
    }

    @Test("output in order; an abandoned writer wakes a command waiting for room")
    func outbox() async throws {
        let box = ExecOutbox(capacity: 2)
        let producer = Task { await Self.onThread { () -> String in
            do {
                for i in 0..<50 { try box.send(i % 2 == 0 ? .stdout : .stderr, [UInt8(i)]) }
                box.finish()
                return "done"
            } catch {
                return "\(error)"
            }
        } }
        var received: [UInt8] = []
        for await message in box.messages {
            received += Array(message.stdout) + Array(message.stderr)
            box.written()
        }
        #expect(received == (0..<50).map { UInt8($0) })
        #expect(await producer.value == "done")

        // A client that stops reading after two messages: the third send waits for room until
        // the writer abandons the stream, then fails, and so does any later one.
        let stalled = ExecOutbox(capacity: 2)
        let blocked = Task { await Self.onThread { () -> String in
            do {
                for _ in 0..<10 { try stalled.send(.stdout, [1]) }
                return "sent everything"
            } catch {
                return "\(error)"
            }
        } }
        var iterator = stalled.messages.makeAsyncIterator()
        _ = await iterator.next()
        _ = await iterator.next()
        stalled.abandon()
        #expect(await blocked.value.contains("went away"))
        #expect(throws: SandboxError.self) { try stalled.send(.stderr, [2]) }
    }
}
