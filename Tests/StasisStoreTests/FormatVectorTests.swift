import Crypto
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
    /// Decodes every chunk of a pack file through its frames, verified.
    static func chunks(of index: PackIndex, bytes: [UInt8], cipher: StoreCipher?) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        for entry in index.entries {
            let frame = index.frames[entry.frame]
            var raw = [UInt8](repeating: 0, count: frame.rawLength)
            var scratch = [UInt8](repeating: 0, count: frame.storedLength)
            let stored = Array(bytes[Int(frame.offset)..<Int(frame.offset) + frame.storedLength])
            try stored.withRawBytes { (s) throws(FrameDamage) in
                try raw.withMutableRawBytes { (r) throws(FrameDamage) in
                    try scratch.withMutableRawBytes { (t) throws(FrameDamage) in
                        try FrameDecoder(cipher: cipher).decode(s, frame: frame, header: index.header, into: r, scratch: t)
                    }
                }
            }
            let chunk = Array(raw[entry.offsetInFrame..<entry.offsetInFrame + entry.rawLength])
            #expect(ChunkHasher.id(of: chunk) == entry.id)
            out.append(chunk)
        }
        return out
    }

    static let vectorCipher = StoreCipher(currentKeyID: 1, keys: [1: SymmetricKey(data: Array(0..<32) as [UInt8])])
    static let vectorPackID = "00112233445566778899aabbccddeeff"
    static let v2Chunks: [[UInt8]] = [Array("stasis pack v2\n\n".utf8), [UInt8](repeating: UInt8(ascii: "a"), count: 64), Array("raw frame\n".utf8)]

    @Test("pack v1 vector decodes to its two chunks (each its own frame)")
    func packV1() throws {
        let bytes = FormatVectors.vector("pack-v1", in: "pack.md")
        #expect(bytes.count == 187)
        let dir = TemporaryDirectory()
        TestFiles.write(bytes, to: dir.file("v.pack"))
        let index = try PackIndex.read(packID: "vector", path: dir.file("v.pack"), cipher: nil)
        #expect(index.header == .v1)
        #expect(try Self.chunks(of: index, bytes: bytes, cipher: nil) == [Array("stasis pack v1\n\n".utf8), [UInt8](repeating: UInt8(ascii: "a"), count: 64)])
        #expect(index.frames.map(\.codec) == [.raw, .lz4])
        #expect(Array(bytes[0..<16]) == PackFormat.Header.v1.bytes)
    }

    @Test("pack v2 vector decodes to its three chunks in two frames and re-encodes its table and trailer")
    func packV2() throws {
        let bytes = FormatVectors.vector("pack-v2", in: "pack.md")
        let dir = TemporaryDirectory()
        TestFiles.write(bytes, to: dir.file("v.pack"))
        let index = try PackIndex.read(packID: Self.vectorPackID, path: dir.file("v.pack"), cipher: nil)
        #expect(index.header == PackFormat.Header(version: 2, flags: 0, keyID: 0))
        #expect(index.frames.map(\.codec) == [.lz4, .raw])
        #expect(index.entries.map(\.frame) == [0, 0, 1])
        #expect(try Self.chunks(of: index, bytes: bytes, cipher: nil) == Self.v2Chunks)
        let table = PackIndex.encodeTable(frames: index.frames, entries: index.entries)
        let tableOffset = index.frames.last!.offset + Int64(index.frames.last!.storedLength)
        #expect(Array(bytes[Int(tableOffset)...]) == table + PackIndex.trailer(header: index.header, tableOffset: tableOffset, storedTable: table))
        #expect(Array(bytes[0..<16]) == PackFormat.Header(cipher: nil).bytes)
    }

    @Test("encrypted pack v2 vector opens with its data key, and not with another key or under another pack id")
    func packV2Encrypted() throws {
        let bytes = FormatVectors.vector("pack-v2-encrypted", in: "pack.md")
        let dir = TemporaryDirectory()
        TestFiles.write(bytes, to: dir.file("v.pack"))
        let index = try PackIndex.read(packID: Self.vectorPackID, path: dir.file("v.pack"), cipher: Self.vectorCipher)
        #expect(index.header == PackFormat.Header(version: 2, flags: 1, keyID: 1))
        #expect(try Self.chunks(of: index, bytes: bytes, cipher: Self.vectorCipher) == Self.v2Chunks)
        // The plain chunks are nowhere in the file.
        #expect(!String(decoding: bytes, as: UTF8.self).contains("stasis pack v2"))
        let otherKey = StoreCipher(currentKeyID: 1, keys: [1: SymmetricKey(size: .bits256)])
        #expect(throws: StoreError.self) { try PackIndex.read(packID: Self.vectorPackID, path: dir.file("v.pack"), cipher: otherKey) }
        #expect(throws: StoreError.self) { try PackIndex.read(packID: "ffeeddccbbaa99887766554433221100", path: dir.file("v.pack"), cipher: Self.vectorCipher) }
        #expect(throws: StoreError.self) { try PackIndex.read(packID: Self.vectorPackID, path: dir.file("v.pack"), cipher: nil) }
        // A flipped byte anywhere in a frame fails that frame, never returns bytes.
        for i in Int(index.frames[0].offset)..<Int(index.frames[1].offset + Int64(index.frames[1].storedLength)) {
            var damaged = bytes
            damaged[i] ^= 0x01
            #expect(throws: (any Error).self) { _ = try Self.chunks(of: index, bytes: damaged, cipher: Self.vectorCipher) }
        }
    }

    @Test("pack v2 zstd vector decodes its zstd frame to its two chunks; a flipped frame byte is never returned as data")
    func packV2Zstd() throws {
        let bytes = FormatVectors.vector("pack-v2-zstd", in: "pack.md")
        let dir = TemporaryDirectory()
        TestFiles.write(bytes, to: dir.file("v.pack"))
        let index = try PackIndex.read(packID: Self.vectorPackID, path: dir.file("v.pack"), cipher: nil)
        #expect(index.frames.map(\.codec) == [.zstd])
        let text = Array(String(repeating: "stasis keeps agent sandboxes whole; ", count: 6).utf8.prefix(200))
        #expect(try Self.chunks(of: index, bytes: bytes, cipher: nil) == [text, [UInt8](repeating: UInt8(ascii: "z"), count: 300)])
        // A flipped byte in the frame: the decoder refuses it, or what it yields fails the
        // chunk-id check every reader makes (zstd frames carry no checksum of their own here).
        let frame = index.frames[0]
        for i in Int(frame.offset)..<Int(frame.offset) + frame.storedLength {
            var damaged = Array(bytes[Int(frame.offset)..<Int(frame.offset) + frame.storedLength])
            damaged[i - Int(frame.offset)] ^= 0x01
            var raw = [UInt8](repeating: 0, count: frame.rawLength)
            var scratch = [UInt8](repeating: 0, count: frame.storedLength)
            let decoded: Bool = (try? damaged.withRawBytes { (s) throws(FrameDamage) in
                try raw.withMutableRawBytes { (r) throws(FrameDamage) in
                    try scratch.withMutableRawBytes { (t) throws(FrameDamage) in
                        try FrameDecoder(cipher: nil).decode(s, frame: frame, header: index.header, into: r, scratch: t)
                    }
                }
            }) != nil
            if decoded {
                let ids = index.entries.map { ChunkHasher.id(of: Array(raw[$0.offsetInFrame..<$0.offsetInFrame + $0.rawLength])) }
                #expect(ids != index.entries.map(\.id) || raw == text + [UInt8](repeating: UInt8(ascii: "z"), count: 300), "byte \(i)")
            }
        }
    }

    @Test("every truncation and every corrupted structural byte of a pack is rejected", arguments: ["pack-v1", "pack-v2", "pack-v2-encrypted", "pack-v2-zstd"])
    func packDamage(vector: String) throws {
        let bytes = FormatVectors.vector(vector, in: "pack.md")
        let dir = TemporaryDirectory()
        for length in 0..<bytes.count {
            TestFiles.write(Array(bytes[0..<length]), to: dir.file("t.pack"))
            #expect(throws: StoreError.self) { try PackIndex.read(packID: Self.vectorPackID, path: dir.file("t.pack"), cipher: Self.vectorCipher) }
        }
        let index = try { () throws -> PackIndex in
            TestFiles.write(bytes, to: dir.file("v.pack"))
            return try PackIndex.read(packID: Self.vectorPackID, path: dir.file("v.pack"), cipher: Self.vectorCipher)
        }()
        let tableStart = Int(index.frames.last!.offset) + index.frames.last!.storedLength
        for i in Array(0..<16) + Array(tableStart..<bytes.count) {
            var damaged = bytes
            damaged[i] ^= 0x40
            TestFiles.write(damaged, to: dir.file("d.pack"))
            #expect(throws: StoreError.self, "byte \(i)") { try PackIndex.read(packID: Self.vectorPackID, path: dir.file("d.pack"), cipher: Self.vectorCipher) }
        }
    }

    @Test("sealed manifest vector opens to the plain manifest under its image id only")
    func sealedManifest() throws {
        let sealed = FormatVectors.vector("sealed-manifest", in: "encryption.md")
        let plain = FormatVectors.vector("image-manifest-v1", in: "image-manifest.md")
        let id = ImageManifest.id(ofEncoded: plain)
        #expect(try SealedObject.open(sealed, kind: .imageManifest, name: id, cipher: Self.vectorCipher, subject: "vector") == plain)
        #expect(throws: StoreError.self) { try SealedObject.open(sealed, kind: .imageManifest, name: String(repeating: "0", count: 64), cipher: Self.vectorCipher, subject: "v") }
        #expect(throws: StoreError.self) { try SealedObject.open(plain, kind: .imageManifest, name: id, cipher: Self.vectorCipher, subject: "v") }
        for i in sealed.indices {
            var damaged = sealed
            damaged[i] ^= 0x10
            #expect(throws: StoreError.self) { try SealedObject.open(damaged, kind: .imageManifest, name: id, cipher: Self.vectorCipher, subject: "v") }
        }
    }

    @Test("wrapped data key vector unwraps with its master key, and a wrong key is refused")
    func wrappedDataKey() throws {
        let wrapped = FormatVectors.vector("wrapped-data-key", in: "encryption.md")
        let master = MasterKey(key: SymmetricKey(data: Array(32..<64) as [UInt8]), source: "vector")
        let key = try master.unwrap(wrapped, id: 1)
        #expect(key.withUnsafeBytes { Array($0) } == Array(0..<32) as [UInt8])
        #expect(throws: StoreError.self) { try master.unwrap(wrapped, id: 2) }
        #expect(throws: StoreError.self) { try MasterKey.generate(source: "other").unwrap(wrapped, id: 1) }
        // What this implementation wraps, the same key unwraps.
        let again = master.wrap(key, id: 7)
        #expect(try master.unwrap(again, id: 7).withUnsafeBytes { Array($0) } == Array(0..<32) as [UInt8])
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
        // Flags (bytes 10–11) and the reserved field (28–31) must be zero.
        for i in [10, 11, 28, 31] {
            var set = bytes; set[i] = 1
            #expect { try ImageManifest.decode(set, id: "r") } throws: { "\($0)".contains(i < 12 ? "upgrade stasis" : "reserved") }
        }
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
        // Flags (bytes 10–11) and the reserved field (24–27) must be zero.
        for i in [10, 11, 24, 27] {
            var set = bytes; set[i] = 1
            #expect { try BlobManifest.decode(set, id: "r") } throws: { "\($0)".contains(i < 12 ? "upgrade stasis" : "reserved") }
        }
    }
}
