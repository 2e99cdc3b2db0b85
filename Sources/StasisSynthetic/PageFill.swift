import Foundation

/// Writes one 4 KiB page of a given kind: the one place base and next images make page contents.
enum PageFill {
    @inline(__always)
    static func fill(_ page: UnsafeMutableRawPointer, kind: PageKind, poolIndex: Int, pool: UnsafeRawBufferPointer,
                     vocab: UnsafePointer<UInt64>, phrases: UnsafePointer<UInt64>, rng: inout Xoshiro256StarStar) {
        let ps = SyntheticLayout.pageSize
        switch kind {
        case .zero: memset(page, 0, ps)
        case .dup: memcpy(page, pool.baseAddress! + poolIndex * ps, ps)
        case .comp: CompPageWriter.write(into: page, vocab: vocab, phrases: phrases, rng: &rng)
        case .rand: rng.fill(UnsafeMutableRawBufferPointer(start: page, count: ps))
        }
    }
}
