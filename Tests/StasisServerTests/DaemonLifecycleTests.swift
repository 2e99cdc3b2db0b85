import Foundation
import GRPCCore
import StasisAPI
import StasisGraphStore
import StasisStore
import StasisStoreTestSupport
import Synchronization
import Testing

/// The daemon as a process, over its real socket. Invariants checked:
/// - SIGKILL while many clients write: after a restart every acknowledged checkpoint is there,
///   bit-exact, and every stored checkpoint reads back whole (no half-written checkpoint);
/// - SIGTERM drains: a call in flight finishes completely, the daemon exits 0 and removes its socket;
/// - one daemon per store: a second `stasis serve` is refused with a message naming the first;
/// - a TCP listener without a token is refused at startup, with exit code 1; a malformed
///   address with 64 (bad arguments);
/// - two writers storing the same checkpoint id with different parents: the second gets ABORTED
///   naming the checkpoint, and the first one's checkpoint stays;
/// - a client that walks away from a stream mid-way leaves the daemon serving the next call;
/// - a request over `--max-message` (by one byte, or by hundreds of MiB) gets RESOURCE_EXHAUSTED
///   naming the call, its size and the limit, stores nothing, and costs the daemon no memory of
///   its size; the connection carries on.
@Suite("stasis serve lifecycle", .serialized)
struct DaemonLifecycleTests {
    @Test("SIGKILL during concurrent puts loses nothing acknowledged and leaves nothing half-written", .timeLimit(.minutes(3)))
    func sigkillDuringWrites() async throws {
        let store = try DaemonProcess.newStore()
        defer { try? FileManager.default.removeItem(atPath: store) }
        let daemon = try DaemonProcess(store: store)
        let acknowledged = Acknowledged()
        let threads = 6
        // Each client writes a chain of checkpoints whose value grows (chunked, deduplicated);
        // once 60 puts are acknowledged the daemon is killed while the others are in flight.
        // A client whose connection fails before the kill resumes from its last acknowledged put
        // on a new connection (at most three rounds); the failures are printed, and if the clients
        // never reach 60 the test fails instead of waiting for an exit that would never come.
        for round in 0..<3 where !acknowledged.killed.load(ordering: .sequentiallyConsistent) {
            if round > 0 { print("sigkillDuringWrites: round \(round + 1) after client failures: \(acknowledged.errors.withLock { $0 })") }
            await withTaskGroup(of: Void.self) { group in
                for t in 0..<threads {
                    group.addTask {
                        do {
                            try await daemon.withCheckpointer { cp in
                                let done = acknowledged.state.withLock { $0["t\(t)", default: []] }
                                var value = done.last?.value ?? Data()
                                var parent: String? = done.last?.id
                                for step in done.count..<1000 {
                                    value.append(Requests.bytes(1500, seed: UInt64(t * 10_000 + step)))
                                    let id = String(format: "%05d", step)
                                    _ = try await cp.put(Requests.put(thread: "t\(t)", id: id, parent: parent, value: value))
                                    let total = acknowledged.state.withLock { acks -> Int in
                                        acks["t\(t)", default: []].append((id, value))
                                        return acks.values.reduce(0) { $0 + $1.count }
                                    }
                                    if total == 60 {
                                        acknowledged.killed.store(true, ordering: .sequentiallyConsistent)
                                        daemon.kill(SIGKILL)
                                    }
                                    parent = id
                                }
                            }
                        } catch {
                            // Expected once the daemon is killed; before that, worth a line.
                            if !acknowledged.killed.load(ordering: .sequentiallyConsistent) {
                                acknowledged.errors.withLock { $0.append("t\(t): \(error)") }
                            }
                        }
                    }
                }
            }
        }
        if !acknowledged.killed.load(ordering: .sequentiallyConsistent) {
            Issue.record("the clients stopped before 60 acknowledged puts: \(acknowledged.errors.withLock { $0 })")
            daemon.kill(SIGKILL)
        }
        let (_, _) = daemon.wait()
        let acks = acknowledged.state.withLock { $0 }
        #expect(acks.values.reduce(0) { $0 + $1.count } >= 60)

        // Restart on the same store: the stale socket is replaced, everything acknowledged is there.
        let again = try DaemonProcess(store: store)
        try await again.withCheckpointer { cp in
            for (thread, puts) in acks {
                for (id, value) in puts {
                    var req = Stasis_V1_GetTupleRequest()
                    req.key.threadID = thread
                    req.key.checkpointID = id
                    let r = try await cp.getTuple(req)
                    #expect(r.found, "acknowledged checkpoint \(id) of \(thread) is missing")
                    #expect(r.tuple.values.first?.value.data == value, "checkpoint \(id) of \(thread) reads back different bytes")
                }
            }
        }
        again.kill(SIGTERM)
        #expect(again.wait().0 == 0)

        // Every stored checkpoint (acknowledged or not) reads back whole through the library.
        let graph = try GraphStore(store: try ContentStore.open(at: store))
        for key in try graph.list(CheckpointQuery()) {
            let tuple = try #require(try graph.tuple(key))
            #expect(tuple.values.count == 1, "\(key) was stored without its value")
        }
    }

    @Test("requests over --max-message: RESOURCE_EXHAUSTED from the prefix, nothing stored, memory bounded", .timeLimit(.minutes(2)))
    func oversizedRequests() async throws {
        let store = try DaemonProcess.newStore()
        defer { try? FileManager.default.removeItem(atPath: store) }
        let limit = 1 << 20
        let daemon = try DaemonProcess(store: store, arguments: ["--max-message", "1M"])
        defer { daemon.kill(SIGKILL); _ = daemon.wait() }
        let before = try daemon.peakResidentBytes()
        try await daemon.withCheckpointer { cp in
            // One byte of payload too many (the message around it adds a few more), then 64 MiB.
            for size in [limit + 1, 64 << 20] {
                let request = Requests.put(thread: "big", id: "00001", parent: nil, value: Requests.bytes(size, seed: 1))
                do {
                    _ = try await cp.put(request)
                    Issue.record("a put of \(size) bytes was accepted")
                } catch let error as RPCError {
                    #expect(error.code == .resourceExhausted, "\(error)")
                    #expect(error.message.contains("Put request of") && error.message.contains("limit of \(limit) bytes (--max-message)"), "\(error.message)")
                }
            }
            var get = Stasis_V1_GetTupleRequest()
            get.key.threadID = "big"
            #expect(try await cp.getTuple(get).found == false)          // nothing was stored
            // The same connection carries on with a request under the limit.
            _ = try await cp.put(Requests.put(thread: "small", id: "00001", parent: nil, value: Requests.bytes(limit / 2, seed: 2)))
            get.key.threadID = "small"
            #expect(try await cp.getTuple(get).found)
        }
        // The 64 MiB request was refused from its 5-byte prefix: its body was never held.
        let grown = try daemon.peakResidentBytes() - before
        #expect(grown < 32 << 20, "the daemon's peak memory grew by \(grown >> 20) MiB")
    }

    @Test("SIGTERM lets a call in flight finish, then exits 0 and removes the socket", .timeLimit(.minutes(2)))
    func sigtermDrains() async throws {
        let store = try DaemonProcess.newStore()
        defer { try? FileManager.default.removeItem(atPath: store) }
        let daemon = try DaemonProcess(store: store)
        let count = 40
        let received = try await daemon.withCheckpointer { cp in
            var parent: String? = nil
            for i in 0..<count {
                let id = String(format: "%03d", i)
                _ = try await cp.put(Requests.put(thread: "t", id: id, parent: parent, value: Requests.bytes(200_000, seed: UInt64(i))))
                parent = id
            }
            var req = Stasis_V1_ListRequest()
            req.threadID = "t"
            // A long listing (8 MB of values); SIGTERM arrives after its first message.
            return try await cp.list(req) { response in
                var n = 0
                for try await tuple in response.messages {
                    if n == 0 { daemon.kill(SIGTERM) }
                    #expect(tuple.values.first?.value.data == Requests.bytes(200_000, seed: UInt64(count - 1 - n)))
                    n += 1
                }
                return n
            }
        }
        #expect(received == count)
        let (status, _) = daemon.wait()
        #expect(status == 0)
        #expect(!FileManager.default.fileExists(atPath: store + "/stasis.sock"))
    }

    @Test("a second writer on a thread gets ABORTED; a client leaving mid-stream does no harm", .timeLimit(.minutes(2)))
    func racingWritersAndAbandonedStreams() async throws {
        let store = try DaemonProcess.newStore()
        defer { try? FileManager.default.removeItem(atPath: store) }
        let daemon = try DaemonProcess(store: store)
        try await daemon.withCheckpointer { cp in
            _ = try await cp.put(Requests.put(thread: "t", id: "1", parent: nil, value: Requests.bytes(10, seed: 1)))
            _ = try await cp.put(Requests.put(thread: "t", id: "2", parent: "1", value: Requests.bytes(5000, seed: 2)))
            do {
                _ = try await cp.put(Requests.put(thread: "t", id: "2", parent: "0", value: Requests.bytes(5000, seed: 3)))
                Issue.record("the second writer was not refused")
            } catch let error as RPCError {
                #expect(error.code == .aborted)
                #expect(error.message.contains("checkpoint 2 of thread t already exists with parent 1"))
            }
            var get = Stasis_V1_GetTupleRequest()
            get.key.threadID = "t"
            #expect(try await cp.getTuple(get).tuple.values.first?.value.data == Requests.bytes(5000, seed: 2))

            for i in 3..<30 {
                _ = try await cp.put(Requests.put(thread: "t", id: "\(i)", parent: "\(i - 1)", value: Requests.bytes(300_000, seed: UInt64(i))))
            }
            var list = Stasis_V1_ListRequest()
            list.threadID = "t"
            let seen = try await cp.list(list) { response in
                for try await _ in response.messages { return 1 }  // walk away after the first
                return 0
            }
            #expect(seen == 1)
            #expect(try await cp.getTuple(get).tuple.key.checkpointID == "9")  // ids sort as strings
        }
        daemon.kill(SIGTERM)
        #expect(daemon.wait().0 == 0)
    }

    @Test("two daemons on two hosts of one fleet store: a second writer on a thread through the other daemon gets ABORTED, and both read the winner",
          .enabled(if: !TestStores.servicesSkipped, "STASIS_TEST_NO_SERVICES=1"), .timeLimit(.minutes(2)))
    func racingWritersOnTwoHosts() async throws {
        guard case .shared(let catalog, let objects, _, _) = try TestStores.fleetBackends() else { return }
        let shared = ["--catalog", catalog.description, "--objects", objects]
        let storeA = try DaemonProcess.newStore(initArguments: shared)
        let storeB = try DaemonProcess.newStore(initArguments: shared + ["--key", storeA + "/keys/store.ed25519"])
        defer { for s in [storeA, storeB] { try? FileManager.default.removeItem(atPath: s) } }
        let a = try DaemonProcess(store: storeA), b = try DaemonProcess(store: storeB)
        try await a.withCheckpointer { cpA in
            try await b.withCheckpointer { cpB in
                _ = try await cpA.put(Requests.put(thread: "t", id: "1", parent: nil, value: Requests.bytes(10, seed: 1)))
                _ = try await cpA.put(Requests.put(thread: "t", id: "2", parent: "1", value: Requests.bytes(5000, seed: 2)))
                do {
                    _ = try await cpB.put(Requests.put(thread: "t", id: "2", parent: "0", value: Requests.bytes(5000, seed: 3)))
                    Issue.record("the second writer, on the other host, was not refused")
                } catch let error as RPCError {
                    #expect(error.code == .aborted)
                    #expect(error.message.contains("checkpoint 2 of thread t already exists with parent 1"))
                }
                // Both hosts write checkpoint 3 at once with different values: one wins, the
                // other is refused, and both daemons then read the winner's value.
                async let viaA: Bool = Self.accepted { _ = try await cpA.put(Requests.put(thread: "t", id: "3", parent: "2", value: Requests.bytes(70_000, seed: 4))) }
                async let viaB: Bool = Self.accepted { _ = try await cpB.put(Requests.put(thread: "t", id: "3", parent: "1", value: Requests.bytes(70_000, seed: 5))) }
                let (wonA, wonB) = try await (viaA, viaB)
                #expect(wonA != wonB, "exactly one of two racing writers must win (A: \(wonA), B: \(wonB))")
                var get = Stasis_V1_GetTupleRequest()
                get.key.threadID = "t"
                let expected = Requests.bytes(70_000, seed: wonA ? 4 : 5)
                #expect(try await cpA.getTuple(get).tuple.values.first?.value.data == expected)
                #expect(try await cpB.getTuple(get).tuple.values.first?.value.data == expected)
            }
        }
        for d in [a, b] {
            d.kill(SIGTERM)
            #expect(d.wait().0 == 0)
        }
    }

    /// Whether a write was accepted (false: refused with ABORTED; anything else is rethrown).
    static func accepted(_ write: () async throws -> Void) async throws -> Bool {
        do {
            try await write()
            return true
        } catch let error as RPCError where error.code == .aborted {
            return false
        }
    }

    @Test("one daemon per store; TCP needs a token")
    func startupRefusals() async throws {
        let store = try DaemonProcess.newStore()
        defer { try? FileManager.default.removeItem(atPath: store) }
        let first = try DaemonProcess(store: store)
        #expect {
            _ = try DaemonProcess(store: store, arguments: ["--socket", store + "/second.sock"])
        } throws: { error in
            "\(error)".contains("exited 1") && "\(error)".contains("already serving")
        }
        first.kill(SIGTERM)
        #expect(first.wait().0 == 0)
        #expect {
            _ = try DaemonProcess(store: store, arguments: ["--listen", "127.0.0.1:0"])
        } throws: { error in
            "\(error)".contains("exited 1") && "\(error)".contains("needs a token")
        }
        #expect {
            _ = try DaemonProcess(store: store, arguments: ["--listen", "localhost"])
        } throws: { error in
            "\(error)".contains("exited 64") && "\(error)".contains("--listen 'localhost'")
        }
    }
}

/// What the daemon acknowledged, per thread, in order.
final class Acknowledged: Sendable {
    let state = Mutex<[String: [(id: String, value: Data)]]>([:])
    /// Clients' failures before the kill.
    let errors = Mutex<[String]>([])
    let killed = Atomic<Bool>(false)
}
