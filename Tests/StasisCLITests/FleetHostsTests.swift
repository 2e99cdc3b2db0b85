import Foundation
import StasisStoreTestSupport
import Testing

/// Invariants checked, with each host a `stasis` process tree in a network namespace of its own
/// (Tools/fleet/netns.sh: stasis-h1…3), a state directory of its own, and PostgreSQL and
/// SeaweedFS reached over the hosts' veth addresses:
/// - host 1 creates the fleet store, captures an image and writes a session's history with a
///   checkpoint; its directory is deleted;
/// - host 2 joins with the key, restores the image bit-exact (everything from the bucket), finds
///   the session's history verifying, and appends to it; host 3 sees one history of both hosts'
///   events, verifying, signed by the one store key.
@Suite("Hosts in network namespaces share a fleet store", .enabled(if: !TestStores.servicesSkipped, "STASIS_TEST_NO_SERVICES=1"))
struct FleetHostsTests {
    struct Host {
        let namespace: String
        let store: String

        func run(_ arguments: [String], stdin: String? = nil) throws -> StasisProcess.Result {
            let command = ["ip", "netns", "exec", namespace, StasisProcess.binary] + arguments + ["--store", store]
            if let stdin {
                let quoted = command.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
                return try StasisProcess.runShell("printf '%s' '\(stdin.replacingOccurrences(of: "'", with: "'\\''"))' | \(quoted)")
            }
            return StasisProcess.finish(try StasisProcess.start(Array(command.dropFirst()), executable: "/usr/sbin/ip"))
        }
    }

    /// The namespaces exist and the services listen where they can reach (not on loopback).
    static func hosts(_ dir: Scratch) throws -> [Host] {
        let listed = try StasisProcess.runShell("ip netns list").stdout
        let endpoint = ProcessInfo.processInfo.environment["AWS_ENDPOINT_URL"] ?? ""
        guard ["stasis-h1", "stasis-h2", "stasis-h3"].allSatisfy(listed.contains), !endpoint.contains("127.0.0.1") else {
            throw Missing(description: """
                the fleet host tests need network namespaces and services on the bridge: run `Tools/fleet/netns.sh up` and \
                `Tools/services/start.sh --address $(Tools/fleet/netns.sh address)` (Tools/test.sh does both)
                """)
        }
        return (1...3).map { Host(namespace: "stasis-h\($0)", store: dir.file("host\($0)")) }
    }

    struct Missing: Error, CustomStringConvertible { var description: String }

    @Test("an image and a session's history move from one host to the others")
    func imageAndHistory() throws {
        let dir = Scratch()
        _ = try TestStores.fleetBackends()   // exports the credentials the hosts' processes read
        let hosts = try Self.hosts(dir)
        guard case .shared(let catalog, let objects, _, _) = try TestStores.fleetBackends() else { return }
        let fleet = ["--catalog", catalog.description, "--objects", objects]

        let h1 = hosts[0]
        #expect(try h1.run(["init"] + fleet).status == 0)
        let bytes = ImageBytes.make(pages: 128, seed: 21)
        ImageBytes.write(bytes, to: dir.file("mem"))
        let capture = try h1.run(["image", "capture", dir.file("mem"), "--json"])
        let image = try #require(capture.json?["id"] as? String, "\(capture.stderr)")
        let session = try h1.run(["session", "new", "--label", "agent=fleet"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(session.count == 32)
        let appended = try h1.run(["history", "append", session, "--json"],
                                  stdin: "{\"kind\":\"command.started\",\"command\":\"make\"}\n{\"kind\":\"command.exited\",\"code\":0}\n")
        #expect(appended.json?["count"] as? Int == 2, "\(appended.stderr)")
        let checkpoint = try h1.run(["checkpoint", "create", session, "--memory", dir.file("mem"), "--json"])
        #expect(checkpoint.status == 0, "\(checkpoint.stderr)")
        try FileManager.default.copyItem(atPath: h1.store + "/keys/store.ed25519", toPath: dir.file("key"))
        try FileManager.default.copyItem(atPath: h1.store + "/keys/master.key", toPath: dir.file("master.key"))
        try FileManager.default.removeItem(atPath: h1.store)

        let h2 = hosts[1]
        #expect(try h2.run(["init"] + fleet + ["--key", dir.file("key")]).status == 0)
        let restored = try h2.run(["image", "materialize", image, dir.file("out")])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(ImageBytes.read(dir.file("out")) == bytes)
        #expect(try h2.run(["history", "verify", session]).status == 0)
        let more = try h2.run(["history", "append", session, "--json"], stdin: "{\"kind\":\"message\",\"role\":\"assistant\",\"content\":\"built on host 2\"}\n")
        #expect(more.json?["count"] as? Int == 1, "\(more.stderr)")

        let h3 = hosts[2]
        #expect(try h3.run(["init"] + fleet + ["--key", dir.file("key")]).status == 0)
        let verify = try h3.run(["history", "verify", session, "--json"])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let shown = try h3.run(["history", "show", session]).stdout
        #expect(shown.contains("make") && shown.contains("built on host 2"))
    }

    @Test("a sandbox paused on one host resumes on another, memory and disk intact, one history")
    func sandboxAcrossHosts() throws {
        let dir = Scratch()
        _ = try TestStores.fleetBackends()
        let hosts = try Self.hosts(dir)
        guard case .shared(let catalog, let objects, _, _) = try TestStores.fleetBackends() else { return }
        let fleet = ["--catalog", catalog.description, "--objects", objects]
        let (h1, h2) = (hosts[0], hosts[1])

        #expect(try h1.run(["init"] + fleet).status == 0)
        let started = try h1.run(["sandbox", "run", "--memory", "128M", "--disk", "64M", "--json"])
        let session = try #require(started.json?["session"] as? String, "\(started.stdout) \(started.stderr)")
        let wrote = try h1.run(["exec", session, "--shell", "echo carried > /root/note; echo $((6*7)) > /tmp/in-memory; sync"])
        #expect(wrote.status == 0, "\(wrote.stderr)")
        let paused = try h1.run(["sandbox", "pause", session, "--json"])
        #expect(paused.status == 0, "\(paused.stderr)")
        try FileManager.default.copyItem(atPath: h1.store + "/keys/store.ed25519", toPath: dir.file("key"))
        try FileManager.default.copyItem(atPath: h1.store + "/keys/master.key", toPath: dir.file("master.key"))
        try FileManager.default.removeItem(atPath: h1.store)

        #expect(try h2.run(["init"] + fleet + ["--key", dir.file("key")]).status == 0)
        let listed = try h2.run(["sandbox", "ls", "--json"])
        let pausedSessions = (listed.json?["paused"] as? [[String: Any]] ?? []).compactMap { $0["session"] as? String }
        #expect(pausedSessions.contains(session), "\(listed.stdout)")
        let resumed = try h2.run(["sandbox", "resume", session, "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")

        // While it runs on host 2, host 3 may neither resume it nor see it as paused.
        let h3 = hosts[2]
        #expect(try h3.run(["init"] + fleet + ["--key", dir.file("key")]).status == 0)
        let twice = try h3.run(["sandbox", "resume", session])
        #expect(twice.status == 1 && twice.stderr.contains("runs sandbox") && twice.stderr.contains(h2.store), "\(twice.stderr)")
        let seen = try h3.run(["sandbox", "ls", "--json"])
        #expect(!((seen.json?["paused"] as? [[String: Any]] ?? []).contains { $0["session"] as? String == session }), "\(seen.stdout)")
        let read = try h2.run(["exec", session, "--shell", "cat /root/note /tmp/in-memory"])
        #expect(read.status == 0 && read.stdout == "carried\n42\n", "\(read.stdout) \(read.stderr)")
        #expect(try h2.run(["sandbox", "stop", session, "--discard"]).status == 0)
        let verify = try h2.run(["history", "verify", session])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let kinds = try h2.run(["history", "show", session, "--json"]).stdout
        #expect(kinds.contains("\"kind\":\"checkpoint\"") && kinds.contains("\"kind\":\"restore\""))
    }
}
