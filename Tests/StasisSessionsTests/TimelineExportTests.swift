import Crypto
import Foundation
import StasisJSON
import Testing
@testable import StasisSessions

/// Invariants checked: the HTML export embeds every event as its stored body byte for byte (after
/// undoing exactly the writer's three escapes), the stored leaf and chain hashes, the signed head,
/// every checkpoint record and signature, and the blob values events refer to; no event text can
/// end a script element (no raw `<` in any data part, whatever the events hold); the
/// Content-Security-Policy names the page's one script by its hash; an existing file is never
/// overwritten and a failed export leaves nothing behind; an empty session exports with a
/// signed genesis head. (The page's own checks run in Chromium: Tools/timeline/tests.)
@Suite("history export --format html")
struct TimelineExportTests {
    /// The page's parts: the export JSON, the event lines, the hashes, the blobs, the script.
    struct Page {
        var text: String
        func element(_ opening: String) throws -> String {
            let start = try #require(text.range(of: opening)).upperBound
            let end = try #require(text.range(of: "</script>", range: start..<text.endIndex)).lowerBound
            return String(text[start..<end])
        }
        var export: [String: Any] { get throws { try JSONSerialization.jsonObject(with: Data(try element(#"<script type="application/json" id="stasis-export">"#).utf8)) as! [String: Any] } }
        /// Every events element (one before the script, one after), joined.
        var eventLines: [String] {
            get throws {
                let parts = text.components(separatedBy: #"<script type="text/plain" data-stasis="events">"#).dropFirst()
                let joined = try parts.map { part in String(part[..<(try #require(part.range(of: "</script>"))).lowerBound]) }.joined()
                return joined.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
            }
        }
        /// The page's script (the one `<script>` element without a type).
        var script: String { get throws { try element("</script>\n<script>") } }
        var hashes: [UInt8] { get throws { Array(try #require(Data(base64Encoded: try element(#"<script type="text/plain" id="stasis-hashes">"#)))) } }
        var blobs: [String: String] { get throws { try JSONSerialization.jsonObject(with: Data(try element(#"<script type="application/json" id="stasis-blobs">"#).utf8)) as! [String: String] } }
    }

    /// The page's unescaping of an event line (Formats/timeline.md), done independently.
    static func unescape(_ line: String) -> [UInt8] {
        var out: [UInt8] = [], bytes = Array(line.utf8), i = 0
        let table: [String: UInt8] = ["u003c": 0x3C, "u000a": 0x0A, "u000d": 0x0D]
        while i < bytes.count {
            if bytes[i] == 0x5C, i + 1 < bytes.count {
                if bytes[i + 1] == 0x5C { out += [0x5C, 0x5C]; i += 2; continue }
                if i + 6 <= bytes.count, let b = table[String(decoding: bytes[i + 1..<i + 6], as: UTF8.self)] { out.append(b); i += 6; continue }
            }
            out.append(bytes[i]); i += 1
        }
        return out
    }

    @Test("events, hashes, head, checkpoints and blobs as stored; hostile text stays data")
    func roundTrip() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession(labels: ["agent": "coder"]).id
        let hostile = "<script>window.pwned=1</script></script><!-- \u{1B}[31mred\u{1B}[0m & <b>\r\n\\u003c"
        let long = String(repeating: "x<y ", count: 2000)      // > 4096 bytes: kept as a blob
        _ = try t.sessions.append(s, [
            EventInput(kind: .commandStarted, time: 1_795_900_000_000_000_000, data: ["command": .string(hostile)]),
            EventInput(kind: .output, time: 1_795_900_001_000_000_000, data: ["stream": "stdout", "data": .string(long)]),
        ])
        var rng = Rng(state: 1)
        let c = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: t.write(rng.bytes(8192), "mem"))], labels: ["step": "1"]))
        _ = try t.sessions.append(s, [EventInput(kind: .note, time: 1_795_900_090_000_000_000, data: ["text": "after </script>"])])

        let path = t.file("timeline.html")
        let r = try t.sessions.exportTimeline(s, to: path)
        #expect(r.events == 4 && r.checkpoints == 1 && r.blobs == 1 && r.missingBlobs.isEmpty)
        let page = Page(text: try String(contentsOfFile: path, encoding: .utf8))

        let stored = try t.sessions.events(s)
        let lines = try page.eventLines
        #expect(lines.map(Self.unescape) == stored.map(\.body))
        let hashes = try page.hashes
        #expect(hashes.count == stored.count * 64)
        for (i, e) in stored.enumerated() {
            let leaf = e.body.withUnsafeBytes { Array(MerkleTree.leafDigest($0)) }
            #expect(Array(hashes[i * 64..<i * 64 + 32]) == leaf)
        }
        let export = try page.export
        #expect(export["format"] as? String == "stasis-timeline" && export["version"] as? Int == 1)
        #expect((export["session"] as? [String: Any])?["id"] as? String == s)
        let head = try #require(export["head"] as? [String: Any])
        #expect(head["size"] as? Int == 4 && head["signer"] as? String == export["publicKey"] as? String)
        let checkpoints = try #require(export["checkpoints"] as? [[String: Any]])
        #expect(checkpoints.count == 1 && checkpoints[0]["id"] as? String == c.id)
        #expect(Array((checkpoints[0]["record"] as? String ?? "").utf8) == c.record.canonicalBytes)
        #expect(checkpoints[0]["signature"] as? String == c.signature.map { String(format: "%02x", $0) }.joined())
        let blobID = Array(SHA256.hash(data: Array(long.utf8))).map { String(format: "%02x", $0) }.joined()
        #expect(try page.blobs[blobID].flatMap { Data(base64Encoded: $0) } == Data(long.utf8))

        // Only the page's own markup holds '<': no event can close an element or open a comment.
        var data = page.text[page.text.range(of: #"id="stasis-export">"#)!.upperBound...]
        let script = try page.script
        data = Substring(String(data).replacingOccurrences(of: script, with: ""))
        for tag in ["</script>\n<script>", "</script>\n<script type=\"text/plain\" data-stasis=\"events\">", "</script>\n<script type=\"text/plain\" id=\"stasis-hashes\">",
                    "</script>\n<script type=\"application/json\" id=\"stasis-blobs\">",
                    "</script>\n<script type=\"application/json\" id=\"stasis-diffs\">", "</script>\n</body></html>\n"] {
            data = Substring(String(data).replacingOccurrences(of: tag, with: ""))
        }
        #expect(!data.contains("<"))
        #expect(!page.text.contains("window.pwned=1</script>"))

        // The CSP allows exactly the script the page carries, and nothing from the network.
        let hash = Data(SHA256.hash(data: Array(script.utf8))).base64EncodedString()
        #expect(page.text.contains("script-src 'sha256-\(hash)'"))
        #expect(!page.text.contains("http://") && !page.text.contains("https://"))
    }

    @Test("an existing file is refused and kept; an empty session exports")
    func refusals() throws {
        let t = try TemporaryStore()
        let s = try t.sessions.createSession().id
        let path = t.write(Array("keep".utf8), "exists.html")
        #expect(throws: HistoryError.self) { try t.sessions.exportTimeline(s, to: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep")
        #expect(throws: HistoryError.self) { try t.sessions.exportTimeline(s, to: t.file("no/such/dir/x.html")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: t.path).filter { $0.hasSuffix(".tmp") }.isEmpty)

        let empty = try t.sessions.exportTimeline(s, to: t.file("empty.html"))
        #expect(empty.events == 0)
        let page = Page(text: try String(contentsOfFile: t.file("empty.html"), encoding: .utf8))
        let head = try #require(try page.export["head"] as? [String: Any])
        #expect(head["size"] as? Int == 0 && (head["signature"] as? String)?.count == 128)
        #expect(try page.eventLines.isEmpty)
    }
}
