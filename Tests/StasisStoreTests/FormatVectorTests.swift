import Foundation
import Testing
import StasisIO
@testable import StasisStore

/// Invariants checked: the Swift code reads the test vectors in Formats/ (written by an
/// independent implementation, Tools/formats/make_vectors.py) exactly as the specs describe,
/// writes the same bytes where they do not depend on the compressor, and rejects every
/// truncation and every single-byte corruption of the structural parts with an error, not a crash.
@Suite("Format test vectors")
struct FormatVectorTests {
    @Test("pack v1 vector decodes to its two chunks and re-encodes its table and trailer")
    func pack() throws {
        let bytes = FormatVectors.vector("pack-v1", in: "pack.md")
        #expect(bytes.count == 187)
        let dir = TemporaryDirectory()
        TestFiles.write(bytes, to: dir.file("v.pack"))
        let index = try PackIndex.read(packID: "vector", path: dir.file("v.pack"))
        #expect(index.entries.count == 2)
        let expected: [[UInt8]] = [Array("stasis pack v1\n\n".utf8), [UInt8](repeating: UInt8(ascii: "a"), count: 64)]
        for (entry, raw) in zip(index.entries, expected) {
            #expect(entry.id == ChunkHasher.id(of: raw))
            #expect(entry.rawLength == raw.count)
            let stored = Array(bytes[Int(entry.offset)..<Int(entry.offset) + entry.storedLength])
            var out = [UInt8](repeating: 0, count: entry.rawLength)
            let loc = ChunkLocation(pack: 0, encoding: entry.encoding, rawLength: UInt32(entry.rawLength), storedLength: UInt32(entry.storedLength), offset: entry.offset)
            try stored.withRawBytes { (s) throws(StoreError) in
                try out.withMutableRawBytes { (o) throws(StoreError) in
                    try ChunkReader.decodeAndVerify(entry.id, stored: s, location: loc, packID: "vector", into: o)
                }
            }
            #expect(out == raw)
        }
        #expect(index.entries.map(\.encoding) == [.raw, .lz4])
        let table = PackIndex.encode(index.entries)
        let entriesOffset = index.entries.last!.offset + Int64(index.entries.last!.storedLength)
        #expect(Array(bytes[Int(entriesOffset)...]) == table + PackIndex.trailer(entriesOffset: entriesOffset, encodedEntries: table))
        #expect(Array(bytes[0..<16]) == PackFormat.header)
    }

    @Test("every truncation and every corrupted structural byte of a pack is rejected")
    func packDamage() throws {
        let bytes = FormatVectors.vector("pack-v1", in: "pack.md")
        let dir = TemporaryDirectory()
        for length in 0..<bytes.count {
            TestFiles.write(Array(bytes[0..<length]), to: dir.file("t.pack"))
            #expect(throws: StoreError.self) { try PackIndex.read(packID: "t", path: dir.file("t.pack")) }
        }
        let structural = Array(0..<16) + Array((bytes.count - 56 - 88)..<bytes.count)
        for i in structural {
            var damaged = bytes
            damaged[i] ^= 0x40
            TestFiles.write(damaged, to: dir.file("d.pack"))
            #expect(throws: StoreError.self) { try PackIndex.read(packID: "d", path: dir.file("d.pack")) }
        }
    }

    @Test("image manifest v1 vector decodes, hashes to its id, and re-encodes byte for byte")
    func manifest() throws {
        let bytes = FormatVectors.vector("image-manifest-v1", in: "image-manifest.md")
        let id = FormatVectors.quoted(after: "Image id", in: "image-manifest.md")
        #expect(ImageManifest.id(ofEncoded: bytes) == id)
        let m = try ImageManifest.decode(bytes, id: id)
        #expect(m.imageSize == 10000 && m.chunkSize == 4096)
        #expect(m.chunks == [nil, ChunkHasher.id(of: [UInt8](repeating: 1, count: 4096)), ChunkHasher.id(of: [UInt8](repeating: 2, count: 1808))])
        #expect(m.encoded() == bytes)
        for length in 0..<bytes.count {
            #expect(throws: StoreError.self) { try ImageManifest.decode(Array(bytes[0..<length]), id: "t") }
        }
        var wrongVersion = bytes; wrongVersion[8] = 2
        #expect(throws: StoreError.self) { try ImageManifest.decode(wrongVersion, id: "v") }
        var tooManyChunks = bytes; tooManyChunks[36] = 3   // data run claims 3 chunks
        #expect(throws: StoreError.self) { try ImageManifest.decode(tooManyChunks, id: "c") }
    }

    @Test("blob manifest v1 vector decodes and re-encodes byte for byte")
    func blob() throws {
        let bytes = FormatVectors.vector("blob-manifest-v1", in: "blob-manifest.md")
        let m = try BlobManifest.decode(bytes, id: "vector")
        #expect(m.size == 3012)
        #expect(m.entries.map(\.length) == [3000, 12])
        #expect(m.entries[1].id == ChunkHasher.id(of: Array("hello, blob\n".utf8)))
        #expect(m.encoded() == bytes)
        for length in 0..<bytes.count {
            #expect(throws: StoreError.self) { try BlobManifest.decode(Array(bytes[0..<length]), id: "t") }
        }
    }
}
