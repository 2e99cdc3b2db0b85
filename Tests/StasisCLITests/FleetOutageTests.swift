import Foundation
import StasisCatalog
import StasisStoreTestSupport
import StasisTestSupport
import Testing

/// PostgreSQL lost in the middle of a commit, through the real binary, on a fleet store whose
/// catalog is reached through a proxy (Resources/pg_fault_proxy.py) that loses one COMMIT: of an
/// image capture (the transaction that inserts the image row, its packs uploaded before) and of
/// a history append. For each way of losing it:
/// - the COMMIT never reaches the server: the command fails naming the catalog's endpoint and
///   saying that nothing was written;
/// - the server commits but its answer is lost: the command asks the server what became of its
///   transaction and succeeds (it was committed) — no false failure;
/// - as that, and the server cannot be reached afterwards: the command fails naming the endpoint
///   and saying the outcome is unknown — neither success nor "nothing was written".
/// Afterwards, in every case: `verify --deep` (or `history verify`) finds the store consistent,
/// so no catalog row names an object that is not durable; what is visible is all of the
/// operation or none of it; and the same operation again succeeds.
@Suite("fleet store: PostgreSQL lost mid-commit", .enabled(if: TestStores.engine == .postgres, "the fleet pass (STASIS_TEST_CATALOG=postgres)"))
struct FleetOutageTests {
    typealias Mode = PostgresFaultProxy.Mode

    /// A fleet store whose descriptor names the proxy as its catalog.
    final class Fixture {
        let dir = Scratch()
        let proxy: PostgresFaultProxy
        let catalog: String
        var store: String { dir.file("store") }

        init() throws {
            guard case .shared(var configuration, let objects, _, _) = try TestStores.fleetBackends() else {
                throw CocoaError(.featureUnsupported)
            }
            proxy = try PostgresFaultProxy(upstreamHost: configuration.host, upstreamPort: configuration.port)
            configuration.host = "127.0.0.1"
            configuration.port = proxy.port
            catalog = configuration.description
            let created = try StasisProcess.run(["init", "--store", dir.file("store"), "--catalog", catalog, "--objects", objects])
            #expect(created.status == 0, "\(created.stderr)")
        }

        deinit { proxy.stop() }

        func stasis(_ arguments: [String], input: String? = nil) throws -> StasisProcess.Result {
            try StasisProcess.run(arguments + ["--store", store], input: input.map { Data($0.utf8) })
        }

        /// What a failed command said must name the catalog as the store's descriptor does.
        func expectFailure(_ result: StasisProcess.Result, saying phrases: [String], _ mode: Mode) {
            #expect(result.status == 1, "\(mode): \(result.stderr)")
            #expect(result.stderr.contains(catalog), "\(mode): \(result.stderr)")
            for phrase in phrases { #expect(result.stderr.contains(phrase), "\(mode): \(result.stderr)") }
        }

        /// Runs `operation` with the proxy armed to lose its COMMIT, checks what the command says.
        func lose(_ mode: Mode, when pattern: String, _ operation: () throws -> StasisProcess.Result) throws -> StasisProcess.Result {
            proxy.arm(mode, when: pattern)
            let result = try operation()
            #expect(proxy.disturbed(reaching: 1) == 1, "\(mode): the proxy lost no COMMIT")
            switch mode {
            case .dropCommit: expectFailure(result, saying: ["rolled it back", "none of it was written"], mode)
            case .loseReply: #expect(result.status == 0, "\(mode): \(result.stderr)")
            case .loseReplyThenDown:
                expectFailure(result, saying: ["whether it was committed is unknown", "may or may not have taken effect"], mode)
                proxy.up()
            }
            return result
        }
    }

    @Test("an image capture", arguments: Mode.allCases)
    func capture(mode: Mode) throws {
        let f = try Fixture()
        let bytes = ImageBytes.make(pages: 300, seed: 41)
        ImageBytes.write(bytes, to: f.dir.file("mem"))
        _ = try f.lose(mode, when: "INSERT INTO images") { try f.stasis(["image", "capture", f.dir.file("mem"), "--json"]) }

        let verify = try f.stasis(["verify", "--deep"])
        #expect(verify.status == 0, "\(mode): \(verify.stdout) \(verify.stderr)")
        // All of the capture or none of it: the image with its packs (verify checked their
        // objects), and no writer left holding gc back.
        let committed = mode != .dropCommit
        let listed = try f.stasis(["image", "ls", "--json"])
        #expect(listed.stdout.components(separatedBy: "\"id\"").count - 1 == (committed ? 1 : 0), "\(mode): \(listed.stdout)")
        let rows = try Self.counts(f, ["images", "writer_leases", "writer_uploads"])
        #expect(rows == ["images": committed ? 1 : 0, "writer_leases": 0, "writer_uploads": 0], "\(mode)")

        let again = try f.stasis(["image", "capture", f.dir.file("mem"), "--json"])
        #expect(again.status == 0, "\(mode): \(again.stderr)")
        let id = try #require(again.json?["id"] as? String)
        #expect(try Self.counts(f, ["images"]) == ["images": 1])
        #expect(try f.stasis(["image", "materialize", id, f.dir.file("out")]).status == 0)
        #expect(FileManager.default.contents(atPath: f.dir.file("out")) == Data(bytes))
        #expect(try f.stasis(["verify", "--deep"]).status == 0)
    }

    @Test("a history append", arguments: Mode.allCases)
    func historyAppend(mode: Mode) throws {
        let f = try Fixture()
        let session = try f.stasis(["session", "new"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(session.count == 32)
        let events = (0..<3).map { "{\"kind\": \"note\", \"text\": \"step \($0)\"}" }.joined(separator: "\n")
        #expect(try f.stasis(["history", "append", session], input: events).status == 0)
        _ = try f.lose(mode, when: "INSERT INTO events") { try f.stasis(["history", "append", session], input: events) }

        #expect(try f.stasis(["history", "verify", session]).status == 0, "\(mode)")
        // All three events or none: an unknown outcome must be looked at before repeating.
        let size = try Self.historySize(f, session)
        #expect(size == (mode == .dropCommit ? 3 : 6), "\(mode)")

        let again = try f.stasis(["history", "append", session], input: events)
        #expect(again.status == 0, "\(mode): \(again.stderr)")
        #expect(try Self.historySize(f, session) == size + 3)
        #expect(try f.stasis(["history", "verify", session]).status == 0)
    }

    static func historySize(_ f: Fixture, _ session: String) throws -> Int {
        let shown = try f.stasis(["history", "show", session, "--json"])
        return shown.stdout.components(separatedBy: "\"seq\"").count - 1
    }

    /// Row counts read directly (not through the proxy).
    static func counts(_ f: Fixture, _ tables: [String]) throws -> [String: Int64] {
        let descriptor = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f.store + "/store.json"))) as? [String: Any]
        var configuration = try PostgresCatalogConfiguration.parse(descriptor?["catalog"] as? String, environment: ProcessInfo.processInfo.environment)
        let direct = try PostgresCatalogConfiguration.parse(try TestServices.postgresURL())
        configuration.host = direct.host
        configuration.port = direct.port
        let database = try PostgresCatalog(configuration)
        defer { database.close() }
        return try database.read { db in
            var out: [String: Int64] = [:]
            for table in tables { out[table] = try db.scalar("SELECT count(*) FROM \(table)").flatMap { if case .int(let n) = $0 { n } else { nil } } ?? -1 }
            return out
        }
    }
}
