// The content model: page kinds, mixes, and the shared "library" tables
// (token vocabulary, phrase table, dup pool) derived from the pool seed.

/// What a synthetic page holds.
public enum PageKind: UInt8, Codable, Sendable, CaseIterable {
    /// All-zero page.
    case zero = 0
    /// Copy of a page of the shared library pool (same for every image with the same pool seed).
    case dup = 1
    /// Text/struct-like page: ~2.1x under LZ4 per 4 KiB page, ~2.6x as a stream.
    case comp = 2
    /// Uniformly random bytes (encrypted or already-compressed data).
    case rand = 3
}

/// Relative weights of the page kinds, drawn once per run of pages.
public struct PageMix: Codable, Sendable, Equatable {
    public var zero: Double
    public var dup: Double
    public var comp: Double
    public var rand: Double

    public init(zero: Double, dup: Double, comp: Double, rand: Double) {
        precondition(zero >= 0 && dup >= 0 && comp >= 0 && rand >= 0 && zero + dup + comp + rand > 0,
                     "page mix weights must be non-negative and not all zero")
        self.zero = zero; self.dup = dup; self.comp = comp; self.rand = rand
    }

    /// Mix of a freshly booted guest's memory: zero 45%, dup 15%, comp 25%, rand 15%.
    public static let base = PageMix(zero: 0.45, dup: 0.15, comp: 0.25, rand: 0.15)
    /// Mix of rewritten (dirty) pages: zero 10%, dup 10%, comp 50%, rand 30%.
    public static let dirty = PageMix(zero: 0.10, dup: 0.10, comp: 0.50, rand: 0.30)

    /// Parses "zero,dup,comp,rand" weights, e.g. "0.1,0.1,0.5,0.3".
    public init?(parsing text: String) {
        let parts = text.split(separator: ",").map { Double(String($0.filter { $0 != " " })) }
        guard parts.count == 4, let z = parts[0], let d = parts[1], let c = parts[2], let r = parts[3],
              z >= 0, d >= 0, c >= 0, r >= 0, z + d + c + r > 0 else { return nil }
        self.init(zero: z, dup: d, comp: c, rand: r)
    }

    /// Cumulative thresholds for zero, dup, comp (rand is the remainder).
    var cumulative: (Double, Double, Double) {
        let t = zero + dup + comp + rand
        return (zero / t, (zero + dup) / t, (zero + dup + comp) / t)
    }
}

/// Geometry and tuning constants of the generator.
public enum SyntheticLayout {
    public static let pageSize = 4096
    /// Pages per generation/write block (64 MiB). Part of the deterministic output definition.
    public static let chunkPages = 16384
    /// Longest run of same-kind pages, and of a dirty cluster.
    public static let maxRun = 64
    /// Default number of pages in the shared library pool.
    public static let defaultPoolPages = 1024
    /// Default pool seed.
    public static let defaultPoolSeed: UInt64 = 1234

    static let wordsPerPage = pageSize / 8      // 512 eight-byte tokens
    static let vocabSize = 4096                 // tokens in the vocabulary (12-bit index)
    static let phraseCount = 2048               // phrases in the global table (11-bit index)
    static let phraseWords = 4                  // 32-byte phrases
    static let slotsPerPage = wordsPerPage / phraseWords  // 128
    static let paletteSize = 12                 // phrases a page prefers
    // Probabilities as 16-bit thresholds.
    static let pLocal: UInt64 = 52_429          // 0.80: slot comes from the page palette
    static let pSingle: UInt64 = 9_830          // 0.15: word replaced by a single vocabulary token
    static let pRandom: UInt64 = 3_932          // 0.06: word replaced by a fresh random word
}

/// Vocabulary, phrase table and library pool for one pool seed.
struct ContentTables: Sendable {
    let vocab: [UInt64]
    let phrases: [UInt64]
    let pool: [UInt8]
    let poolPages: Int

    init(poolSeed: UInt64, poolPages: Int = SyntheticLayout.defaultPoolPages) {
        precondition(poolPages > 0, "pool must hold at least one page")
        let vocab = ContentTables.makeVocabulary(poolSeed: poolSeed)
        let phrases = ContentTables.makePhrases(poolSeed: poolSeed, vocab: vocab)
        self.vocab = vocab
        self.phrases = phrases
        self.poolPages = poolPages
        // The pool: first half text/struct-like pages ("code and data"), second half random.
        var rng = Xoshiro256StarStar(poolSeed, 2)
        var pool = [UInt8](repeating: 0, count: poolPages * SyntheticLayout.pageSize)
        let half = poolPages / 2
        pool.withUnsafeMutableBytes { buf in
            let base = buf.baseAddress!
            for p in 0..<half {
                CompPageWriter.write(into: base + p * SyntheticLayout.pageSize,
                                     vocab: vocab, phrases: phrases, rng: &rng)
            }
            rng.fill(UnsafeMutableRawBufferPointer(rebasing: buf[(half * SyntheticLayout.pageSize)...]))
        }
        self.pool = pool
    }

    /// Words, separators and names seen in a Linux guest's memory: libc/kernel
    /// identifiers, log and HTTP vocabulary, paths and small numbers.
    static let words: [String] = [
        "a", "an", "the", "and", "or", "not", "of", "in", "on", "at", "to", "from", "by", "with",
        "is", "was", "are", "be", "been", "has", "have", "had", "will", "would", "can", "could",
        "this", "that", "these", "those", "it", "its", "for", "into", "over", "under", "then",
        "when", "while", "if", "else", "do", "done", "return", "goto", "break", "continue",
        "int", "long", "short", "char", "bool", "float", "double", "void", "const", "static",
        "extern", "inline", "struct", "union", "enum", "typedef", "sizeof", "u8", "u16", "u32",
        "u64", "s32", "size_t", "off_t", "pid_t", "NULL", "nullptr", "self", "init", "exit",
        "open", "close", "read", "write", "mmap", "munmap", "ioctl", "poll", "epoll", "futex",
        "lock", "unlock", "mutex", "spin", "rcu", "sched", "task", "thread", "cpu", "irq",
        "page", "pfn", "vma", "slab", "kmalloc", "kfree", "inode", "dentry", "super", "block",
        "ext4", "xfs", "tmpfs", "proc", "sysfs", "cgroup", "netns", "socket", "bind", "listen",
        "accept", "connect", "send", "recv", "tcp", "udp", "ipv4", "ipv6", "eth0", "lo",
        "INFO", "WARN", "ERROR", "DEBUG", "TRACE", "FATAL", "ok", "failed", "error", "errno",
        "EAGAIN", "ENOENT", "EINVAL", "timeout", "retry", "pending", "active", "idle", "busy",
        "GET", "POST", "HEAD", "HTTP/1.1", "200", "404", "500", "Host:", "Accept:", "Cookie:",
        "json", "yaml", "utf8", "base64", "gzip", "text/plain", "id", "uid", "gid", "name",
        "key", "value", "type", "kind", "len", "size", "count", "index", "offset", "flags",
        "mode", "state", "status", "start", "stop", "begin", "end", "next", "prev", "head",
        "tail", "left", "right", "root", "node", "tree", "list", "map", "set", "queue", "stack",
        "/usr", "/lib", "/bin", "/etc", "/tmp", "/var", "/home", "/dev/null", "/proc/self",
        "libc.so.6", "ld.so", ".py", ".js", ".c", ".h", "python3", "node", "bash", "sh",
        "0", "1", "2", "4", "8", "16", "32", "64", "128", "255", "1024", "4096", "0x0", "0xff",
        "true", "false", "none", "null", "nil", "yes", "no", "on", "off", "=", ":", "->", "{",
        "}", "(", ")", "[", "]", ";", ",", "#", "//", "*", "&&", "||", "==", "!=", "+=",
    ]

    /// 4096 eight-byte tokens: 40% text, 30% small-integer pairs, 20% pointers, 10% flags.
    static func makeVocabulary(poolSeed: UInt64) -> [UInt64] {
        var rng = Xoshiro256StarStar(poolSeed, 1)
        let n = SyntheticLayout.vocabSize
        let nText = n * 40 / 100, nInts = n * 30 / 100, nPtr = n * 20 / 100
        var toks: [UInt64] = []
        toks.reserveCapacity(n)
        let separators: [UInt8] = [0x20, 0x20, 0x20, 0x20, 0x5F, 0x2E, 0x0A, 0x00]  // ' ' x4, '_', '.', '\n', NUL
        for _ in 0..<nText {
            var bytes: [UInt8] = []
            while bytes.count < 8 {
                bytes += Array(words[rng.below(words.count)].utf8)
                bytes.append(separators[rng.below(separators.count)])
            }
            var t: UInt64 = 0
            for i in 0..<8 { t |= UInt64(bytes[i]) << (8 * UInt64(i)) }
            toks.append(t)
        }
        for _ in 0..<nInts {  // (u32, u32) pairs with skewed, mostly small magnitudes
            let u = rng.nextUnit(), v = rng.nextUnit()
            let a = UInt64(u * u * u * 4096), b = UInt64(v * v * v * 256)
            toks.append(a | (b << 32))
        }
        for _ in 0..<nPtr {  // canonical user-space addresses, 8-byte aligned
            toks.append(0x7F00_0000_0000 &+ (UInt64(rng.below(1 << 24)) << 3))
        }
        let flags: [UInt64] = [0, 1, 2, 4, 8, 0xFF, 0xFFFF_FFFF, .max]
        while toks.count < n { toks.append(flags[rng.below(flags.count)]) }
        // Shuffle so the skewed index draw mixes token types.
        for i in stride(from: n - 1, to: 0, by: -1) {
            toks.swapAt(i, rng.below(i + 1))
        }
        return toks
    }

    /// 2048 phrases of four tokens (skewed draw), about a quarter of the words zeroed.
    static func makePhrases(poolSeed: UInt64, vocab: [UInt64]) -> [UInt64] {
        var rng = Xoshiro256StarStar(poolSeed, 3)
        let n = SyntheticLayout.phraseCount * SyntheticLayout.phraseWords
        var out = [UInt64](repeating: 0, count: n)
        for i in 0..<n {
            let u = rng.nextUnit()
            let tok = vocab[Int(u * u * Double(SyntheticLayout.vocabSize))]
            out[i] = rng.below(4) == 0 ? 0 : tok
        }
        return out
    }
}

/// Writes text/struct-like pages.
///
/// A page holds 128 phrase slots of 32 bytes. It picks a palette of 12 phrases
/// (skewed draw from the 2048-phrase table); each slot takes a palette phrase with
/// probability 0.8, else a (skewed) global phrase. Then 15% of the 8-byte words are
/// replaced by single vocabulary tokens and 6% by fresh random words.
enum CompPageWriter {
    @inline(__always)
    static func skewed(_ u16: UInt64, bits: UInt64) -> Int {
        // (u^2) scaled to 2^bits, with u a 16-bit fraction.
        Int(truncatingIfNeeded: (u16 &* u16) >> (32 &- bits))
    }

    static func write(into page: UnsafeMutableRawPointer, vocab: [UInt64], phrases: [UInt64],
                      rng: inout Xoshiro256StarStar) {
        vocab.withUnsafeBufferPointer { v in
            phrases.withUnsafeBufferPointer { ph in
                write(into: page, vocab: v.baseAddress!, phrases: ph.baseAddress!, rng: &rng)
            }
        }
    }

    @inline(__always)
    static func write(into page: UnsafeMutableRawPointer, vocab: UnsafePointer<UInt64>,
                      phrases: UnsafePointer<UInt64>, rng: inout Xoshiro256StarStar) {
        typealias L = SyntheticLayout
        let words = page.assumingMemoryBound(to: UInt64.self)
        // Palette: 12 phrase indices, three drawn per random word.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: L.paletteSize) { pal in
            var i = 0
            while i < L.paletteSize {
                let r = rng.next()
                pal[i] = skewed(r & 0xFFFF, bits: 11)
                pal[i + 1] = skewed((r >> 16) & 0xFFFF, bits: 11)
                pal[i + 2] = skewed((r >> 32) & 0xFFFF, bits: 11)
                i += 3
            }
            var slot = 0
            while slot < L.slotsPerPage {
                let r = rng.next()
                let idx: Int
                if r & 0xFFFF < L.pLocal {
                    idx = pal[Int(truncatingIfNeeded: (((r >> 16) & 0xFFFF) &* UInt64(L.paletteSize)) >> 16)]
                } else {
                    idx = skewed((r >> 32) & 0xFFFF, bits: 11)
                }
                let src = phrases + idx &* L.phraseWords
                let dst = words + slot &* L.phraseWords
                dst[0] = src[0]; dst[1] = src[1]; dst[2] = src[2]; dst[3] = src[3]
                slot &+= 1
            }
        }
        var w = 0
        while w < L.wordsPerPage {
            let r = rng.next()
            if r & 0xFFFF < L.pSingle {
                words[w] = vocab[skewed((r >> 16) & 0xFFFF, bits: 12)]
            }
            if (r >> 32) & 0xFFFF < L.pRandom {
                words[w] = rng.next()
            }
            w &+= 1
        }
        // Tokens are defined as little-endian values; on big-endian hosts swap in place.
        #if _endian(big)
        for i in 0..<L.wordsPerPage { words[i] = words[i].littleEndian }
        #endif
    }
}

/// Sequence of page kinds in runs of 1...maxRun pages, one kind per run.
struct RunLayout {
    var rng: Xoshiro256StarStar
    let thresholds: (Double, Double, Double)
    let poolPages: Int
    var left = 0
    var kind = PageKind.zero
    var poolIndex = 0

    init(rng: Xoshiro256StarStar, mix: PageMix, poolPages: Int) {
        self.rng = rng
        self.thresholds = mix.cumulative
        self.poolPages = poolPages
    }

    /// Kind of the next page and, for dup pages, the pool page to copy.
    @inline(__always)
    mutating func next() -> (PageKind, Int) {
        if left == 0 {
            left = rng.below(SyntheticLayout.maxRun) + 1
            let u = rng.nextUnit()
            kind = u < thresholds.0 ? .zero : u < thresholds.1 ? .dup : u < thresholds.2 ? .comp : .rand
            poolIndex = rng.below(poolPages)
        }
        left -= 1
        let pi = poolIndex
        poolIndex += 1
        if poolIndex == poolPages { poolIndex = 0 }
        return (kind, pi)
    }
}
