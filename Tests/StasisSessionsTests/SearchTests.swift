import Foundation
import StasisCatalog
import StasisJSON
import StasisStoreTestSupport
import Testing
@testable import StasisSessions

/// Invariants checked, on the engine the run asks for (FTS5 on SQLite, tsvector + GIN on
/// PostgreSQL with STASIS_TEST_CATALOG=postgres): every appended event is searchable as soon as
/// the append returns, values kept in the blob store included; words match without case and
/// across punctuation (`/etc/passwd` finds `cat /etc/passwd`); all words must occur; phrases
/// keep their order; prefixes; kind and session filters; pages that neither repeat nor skip;
/// a removed session leaves no hit; histories written before the index get indexed by the
/// migration; a query without words is refused.
/// A query the test knows to hold words.
private func query(_ text: String) -> SearchQuery { SearchQuery(text)! }

@Suite("history search")
struct SearchTests {
    static func seed(_ t: TemporaryStore) throws -> (String, String) {
        let a = try t.sessions.createSession().id, b = try t.sessions.createSession().id
        try t.sessions.append(a, [
            EventInput(kind: .commandStarted, data: ["command": "cat /etc/passwd"]),
            EventInput(kind: .output, data: ["stream": "stdout", "data": "root:x:0:0:Root User:/root:/bin/bash\n"]),
            EventInput(kind: .toolCall, data: ["name": "read_file", "arguments": ["path": "/work/Secrets.TXT", "why": ["audit", "Quarterly Review"]]]),
            EventInput(kind: .message, data: ["role": "assistant", "content": "The deployment failed because the token expired"]),
            EventInput(kind: .note, data: ["text": "<script>alert(1)</script> stays text"]),
        ])
        try t.sessions.append(b, [
            EventInput(kind: .commandStarted, data: ["command": "grep -r token /etc"]),
            // Longer than the inline limit: kept in the blob store, indexed all the same.
            EventInput(kind: .output, data: ["stream": "stdout", "data": .string(String(repeating: "filler ", count: 1000) + "needle at the end")]),
        ])
        return (a, b)
    }

    func hits(_ t: TemporaryStore, _ q: String, session: String? = nil, kinds: Set<EventKind>? = nil) throws -> [String] {
        try t.sessions.search(EventSearch(query: query(q), session: session, kinds: kinds))
            .hits.map { "\($0.session.prefix(4)):\($0.event.seq)" }
    }

    @Test("appended events are found at once, by words across punctuation and case")
    func words() throws {
        let t = try TemporaryStore()
        let (a, b) = try Self.seed(t)
        let A = String(a.prefix(4)), B = String(b.prefix(4))
        #expect(try hits(t, "passwd") == ["\(A):0"])
        #expect(try hits(t, "/etc/passwd") == ["\(A):0"])
        #expect(try hits(t, "ROOT user") == ["\(A):1"])
        #expect(try hits(t, "secrets txt") == ["\(A):2"])
        #expect(try hits(t, "quarterly") == ["\(A):2"])           // nested in an array of an object
        #expect(try hits(t, "token").sorted() == ["\(A):3", "\(B):0"].sorted())
        #expect(try hits(t, "needle") == ["\(B):1"])               // in the blob store
        #expect(try hits(t, "script alert") == ["\(A):4"])
        #expect(try hits(t, "passwd deployment").isEmpty)          // every word must occur in one event
        #expect(try hits(t, "nothing-like-this").isEmpty)
        // Keys are not indexed.
        #expect(try hits(t, "arguments").isEmpty)
    }

    @Test("phrases, prefixes, kind and session filters")
    func operators() throws {
        let t = try TemporaryStore()
        let (a, b) = try Self.seed(t)
        let A = String(a.prefix(4)), B = String(b.prefix(4))
        #expect(try hits(t, "\"token expired\"") == ["\(A):3"])
        #expect(try hits(t, "\"expired token\"").isEmpty)
        #expect(try hits(t, "deploy*") == ["\(A):3"])
        #expect(try hits(t, "token", kinds: [.commandStarted]) == ["\(B):0"])
        #expect(try hits(t, "token", session: b) == ["\(B):0"])
        #expect(try hits(t, "token", session: String(a.prefix(8))) == ["\(A):3"])
        let hit = try #require(t.sessions.search(EventSearch(query: query("expired"))).hits.first)
        #expect(hit.snippet.contains("token expired"))
        #expect(hit.event.kind == .message)
    }

    @Test("pages neither repeat nor skip a hit")
    func paging() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        try t.sessions.append(s, (0..<25).map { i in EventInput(kind: .note, data: ["text": .string("page word \(i)")]) })
        var seen: [Int64] = [], after: Int64? = nil
        repeat {
            let page = try t.sessions.search(EventSearch(query: query("word"), limit: 7, after: after))
            #expect(page.hits.count <= 7)
            seen += page.hits.map(\.event.seq)
            after = page.next
        } while after != nil
        #expect(seen == Array(0..<25))
    }

    @Test("a removed session leaves no hit")
    func removal() throws {
        let t = try TemporaryStore()
        let (a, b) = try Self.seed(t)
        _ = try t.sessions.removeSession(a)
        #expect(try hits(t, "token") == ["\(b.prefix(4)):0"])
    }

    @Test("histories written before the index are indexed by the migration")
    func migration() throws {
        let t = try TemporaryStore()
        let (a, b) = try Self.seed(t)
        let table = TestStores.engine == .sqlite ? "grdb_migrations" : "stasis_migrations"
        try t.sessions.store.catalog.database.write { db in
            try db.execute("DROP TABLE event_search", [])
            try db.execute("DELETE FROM \(table) WHERE identifier = ?", ["sessions:v5-event-search"])
        }
        let reopened = SessionStore(store: t.sessions.store)
        let found = try reopened.search(EventSearch(query: query("token"))).hits.map { "\($0.session):\($0.event.seq)" }
        #expect(found.sorted() == ["\(a):3", "\(b):0"].sorted())
        #expect(try reopened.search(EventSearch(query: query("/etc/passwd"))).hits.map(\.event.seq) == [0])
        // Values in the blob store are not in the catalog: the migration cannot index them.
        #expect(try reopened.search(EventSearch(query: query("needle"))).hits.isEmpty)
        // Appends after it are indexed as usual.
        try reopened.append(a, [EventInput(kind: .note, data: ["text": "after the migration"])])
        #expect(try reopened.search(EventSearch(query: query("migration"))).hits.map(\.event.seq) == [5])
    }

    @Test("queries without words are refused; the page size is bounded")
    func badInput() throws {
        #expect(SearchQuery("") == nil)
        #expect(SearchQuery("  -- ** \"\" ") == nil)
        #expect(SearchQuery("a\"b c\"d")?.terms == [.word("a"), .phrase(["b", "c"]), .word("d")])
        #expect(SearchQuery("Pre*")?.terms == [.prefix("pre")])
        let t = try TemporaryStore()
        #expect(throws: HistoryError.self) { try t.sessions.search(EventSearch(query: SearchQuery("x")!, limit: 0)) }
        #expect(throws: HistoryError.self) { try t.sessions.search(EventSearch(query: SearchQuery("x")!, session: "ffffffff")) }
    }
}
