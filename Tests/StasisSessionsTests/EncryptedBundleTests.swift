import Crypto
import Foundation
import PropertyBased
import Testing
import StasisStore
@testable import StasisSessions

/// Invariants checked (Formats/bundle.md, "Encrypted bundles"):
/// - an encrypted bundle holds none of the session's plaintext (event text, guest memory), and
///   round-trips with its passphrase: verify offline, import, history and memory bit-exact;
/// - no passphrase, or a wrong one, is a usage error that names the file, and changes nothing;
/// - sealed entries of any length read back whole, streamed and at any offset (property);
/// - an attacker who rewrites the container's digests still cannot alter, cut or move a
///   segment: each such bundle is refused, naming the entry, and nothing is imported.
@Suite("Encrypted bundles", .serialized)
struct EncryptedBundleTests {
    static let passphrase = Array("correct horse battery staple".utf8)

    func session(_ t: TemporaryStore) throws -> (session: String, memory: [UInt8], checkpoint: Checkpoint) {
        let s = try t.sessions.createSession().id
        _ = try t.sessions.append(s, [EventInput(kind: .note, data: ["text": "the api token is TOKEN-4f9a1c"])])
        var rng = Rng(state: 5)
        let memory = rng.bytes(200 * 1024) + Array(String(repeating: "GUEST-SECRET-7b2e ", count: 500).utf8)
        let c = try t.sessions.createCheckpoint(s, CheckpointSpec(images: [.init(name: "memory", path: t.write(memory, "mem"))]))
        return (s, memory, c)
    }

    @Test("round trip with the passphrase; no plaintext in the file")
    func roundTrip() throws {
        let a = try TemporaryStore(), b = try TemporaryStore()
        let (s, memory, c) = try session(a)
        let file = a.file("e.bundle")
        _ = try a.sessions.exportBundle(s, to: file, passphrase: Self.passphrase)
        let bytes = try #require(FileManager.default.contents(atPath: file))
        for secret in ["TOKEN-4f9a1c", "GUEST-SECRET-7b2e", s, c.record.images["memory"]!] {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret) is readable in the encrypted bundle")
        }
        let report = try SessionStore.verifyBundle(at: file, passphrase: Self.passphrase)
        #expect(report.session == s && report.events == 2)
        _ = try b.sessions.importBundle(at: file, passphrase: Self.passphrase)
        #expect(try b.sessions.events(s).map(\.body) == a.sessions.events(s).map(\.body))
        _ = try b.sessions.store.materialize(c.record.images["memory"]!, to: b.file("mem-out"))
        #expect([UInt8](FileManager.default.contents(atPath: b.file("mem-out"))!) == memory)
        #expect(try b.sessions.verifyHistory(s).ok)
    }

    @Test("a plain export from an encrypted store warns, naming the file; an encrypted export does not")
    func plainExportWarns() throws {
        let a = try TemporaryStore()
        #expect(a.sessions.store.isEncrypted)
        let (s, _, _) = try session(a)
        let plain = try a.sessions.exportBundle(s, to: a.file("p.bundle"))
        #expect(!plain.encrypted)
        #expect(plain.warnings.count == 1 && plain.warnings.allSatisfy { $0.contains("plaintext") && $0.contains(a.file("p.bundle")) }, "\(plain.warnings)")
        let sealed = try a.sessions.exportBundle(s, to: a.file("e.bundle"), passphrase: Self.passphrase)
        #expect(sealed.encrypted && sealed.warnings.isEmpty)
    }

    @Test("no passphrase or a wrong one: a usage error naming the file; nothing imported")
    func passphraseRefused() throws {
        let a = try TemporaryStore(), b = try TemporaryStore()
        let (s, _, _) = try session(a)
        let file = a.file("e.bundle")
        _ = try a.sessions.exportBundle(s, to: file, passphrase: Self.passphrase)
        for passphrase in [nil, Array("wrong".utf8)] {
            do {
                _ = try b.sessions.importBundle(at: file, passphrase: passphrase)
                Issue.record("imported with passphrase \(String(describing: passphrase))")
            } catch {
                guard case .badArgument(let field, let message) = error else { Issue.record("\(error)"); continue }
                #expect(field == "passphrase" && message.contains(file), "\(message)")
            }
        }
        #expect(try b.sessions.sessions().isEmpty)
    }

    @Test("sealed entries of any length read back whole, streamed and at any offset (property)")
    func entries() async throws {
        let t = try TemporaryStore()
        let seal = try BundleSeal.create(passphrase: Self.passphrase)
        let segment = BundleSeal.segmentSize
        let lengths = [0, 1, segment - 1, segment, segment + 1, 3 * segment, 3 * segment + 17]
        var rng = Rng(state: 11)
        let contents = lengths.map { rng.bytes($0) }
        let file = t.file("entries.bundle")
        let writer = try BundleWriter(path: file, seal: seal)
        for (i, data) in contents.enumerated() {
            try writer.begin("e/\(i)")
            // Written in uneven pieces, as the exporter writes frames.
            var at = 0
            while at < data.count {
                let n = min(data.count - at, 1 + rng.below(40_000))
                try writer.write(Array(data[at..<at + n]))
                at += n
            }
            try writer.end()
        }
        try writer.finish()
        let reader = try BundleReader(path: file, passphrase: Self.passphrase)
        #expect(reader.order == contents.indices.map { seal.storedName("e/\($0)") })
        for (i, data) in contents.enumerated() {
            #expect(try reader.length("e/\(i)") == Int64(data.count))
            #expect(try reader.data("e/\(i)") == data)
            var streamed: [UInt8] = []
            try reader.stream("e/\(i)") { (offset, block) throws(HistoryError) in
                #expect(offset == Int64(streamed.count))
                streamed += block
            }
            #expect(streamed == data)
        }
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            var r = Rng(state: seed)
            let i = r.below(contents.count), data = contents[i]
            let offset = r.below(data.count + 1), count = r.below(data.count - offset + 1)
            let read = try? reader.read("e/\(i)", offset: Int64(offset), count: count)
            #expect(read == Array(data[offset..<offset + count]), "entry \(i), \(count) bytes at \(offset)")
        }
    }

    @Test("an altered, cut or moved segment is refused even with the digests rewritten")
    func tampered() throws {
        let a = try TemporaryStore(), b = try TemporaryStore()
        let (s, _, _) = try session(a)
        let file = a.file("e.bundle")
        _ = try a.sessions.exportBundle(s, to: file, passphrase: Self.passphrase)
        var entries = Self.entries(of: [UInt8](FileManager.default.contents(atPath: file)!))
        let names = try BundleReader(path: file, passphrase: Self.passphrase)
        let pack = try #require(entries.firstIndex { $0.name == names.storedName(BundleManifest.packEntry) })
        let events = try #require(entries.firstIndex { $0.name == names.storedName(BundleManifest.eventsEntry) })

        var altered = entries
        altered[pack].data[BundleSeal.prefixSize + 100] ^= 1
        var cut = entries   // the pack without its final segment: whole segments only, no final
        cut[pack].data.removeLast(cut[pack].data.count - BundleSeal.prefixSize - (BundleSeal.segmentSize + BundleSeal.tagSize))
        var moved = entries   // the history's sealed bytes under the pack's name and back
        (moved[pack].data, moved[events].data) = (entries[events].data, entries[pack].data)
        entries.removeAll()

        for (label, damaged, entry) in [("altered", altered, BundleManifest.packEntry), ("cut", cut, BundleManifest.packEntry),
                                        ("moved", moved, BundleManifest.eventsEntry)] {
            let path = a.file("\(label).bundle")
            FileManager.default.createFile(atPath: path, contents: Data(Self.seal(damaged)))
            do {
                _ = try b.sessions.importBundle(at: path, passphrase: Self.passphrase)
                Issue.record("\(label): imported")
            } catch {
                guard case .badBundle(_, let message) = error else { Issue.record("\(label): \(error)"); continue }
                #expect(message.contains(entry) || message.contains(BundleManifest.packEntry), "\(label): \(message)")
            }
        }
        #expect(try b.sessions.sessions().isEmpty)
    }

    /// The container's entries, and the container rebuilt around them with correct digests — as an
    /// attacker without the passphrase can.
    static func entries(of bytes: [UInt8]) -> [(name: String, data: [UInt8])] {
        var out: [(name: String, data: [UInt8])] = [], at = 16
        while at < bytes.count - 44 {
            let n = Int(bytes[at]) | Int(bytes[at + 1]) << 8
            let name = String(decoding: bytes[at + 2..<at + 2 + n], as: UTF8.self)
            var length = 0
            for k in 0..<8 { length |= Int(bytes[at + 2 + n + k]) << (8 * k) }
            let start = at + 10 + n
            out.append((name, Array(bytes[start..<start + length])))
            at = start + length + 32
        }
        return out
    }

    static func seal(_ entries: [(name: String, data: [UInt8])]) -> [UInt8] {
        var out = Array("STASBNDL".utf8) + [2, 0, 0, 0, 0, 0, 0, 0], digests: [UInt8] = []
        for e in entries {
            let digest = Array(SHA256.hash(data: e.data))
            digests += digest
            out += [UInt8(e.name.utf8.count & 0xFF), UInt8(e.name.utf8.count >> 8)] + Array(e.name.utf8)
            out += (0..<8).map { UInt8(truncatingIfNeeded: e.data.count >> (8 * $0)) } + e.data + digest
        }
        let count = UInt32(entries.count)
        return out + Array("STASBEND".utf8) + (0..<4).map { UInt8(truncatingIfNeeded: count >> (8 * UInt32($0))) } + Array(SHA256.hash(data: digests))
    }
}
