import StasisStore

/// How one image (memory or a disk) differs between two checkpoints, chunk by chunk.
public struct ImageDiff: Sendable, Codable {
    public var name: String
    public var before: String?
    public var after: String?
    public var chunkSize: Int
    public var size: Int64
    /// Chunks whose contents differ, and their bytes.
    public var changedChunks: Int
    public var changedBytes: Int64
    /// Chunks that were zero before and hold data now, and the reverse.
    public var becameData: Int
    public var becameZero: Int
    /// Byte ranges that changed (consecutive changed chunks merged), at most `rangeLimit`.
    public var ranges: [ByteRange]
    public var rangesTruncated: Bool
    /// Files added, removed and modified, when the image is an ext4 disk.
    public var files: FileChanges?

    public struct ByteRange: Sendable, Codable, Equatable {
        public var offset: Int64
        public var length: Int64
        public init(offset: Int64, length: Int64) { self.offset = offset; self.length = length }
    }

    public static let rangeLimit = 10_000

    /// Compares two manifests (either may be absent: an image added or removed).
    static func compare(name: String, before: (String, ImageManifest)?, after: (String, ImageManifest)?) -> ImageDiff {
        let a = before?.1, b = after?.1
        let chunkSize = (b ?? a)?.chunkSize ?? 0
        let size = max(a?.imageSize ?? 0, b?.imageSize ?? 0)
        var diff = ImageDiff(name: name, before: before?.0, after: after?.0, chunkSize: chunkSize, size: size,
                             changedChunks: 0, changedBytes: 0, becameData: 0, becameZero: 0, ranges: [], rangesTruncated: false, files: nil)
        guard chunkSize > 0 else { return diff }
        if let a, let b, a.chunkSize != b.chunkSize {
            // Different chunk grids: everything counts as changed.
            diff.changedChunks = max(a.chunks.count, b.chunks.count)
            diff.changedBytes = size
            diff.ranges = [ByteRange(offset: 0, length: size)]
            return diff
        }
        let count = max(a?.chunks.count ?? 0, b?.chunks.count ?? 0)
        var open: ByteRange?
        for i in 0..<count {
            let x = (a.map { i < $0.chunks.count ? $0.chunks[i] : nil }) ?? nil
            let y = (b.map { i < $0.chunks.count ? $0.chunks[i] : nil }) ?? nil
            let beyondA = a.map { i >= $0.chunks.count } ?? true
            let beyondB = b.map { i >= $0.chunks.count } ?? true
            guard x != y || beyondA != beyondB else { continue }
            let start = Int64(i) * Int64(chunkSize)
            let length = min(Int64(chunkSize), size - start)
            diff.changedChunks += 1
            diff.changedBytes += length
            if x == nil && y != nil { diff.becameData += 1 }
            if x != nil && y == nil { diff.becameZero += 1 }
            if var r = open, r.offset + r.length == start {
                r.length += length
                open = r
            } else {
                if let r = open { append(r, to: &diff) }
                open = ByteRange(offset: start, length: length)
            }
        }
        if let r = open { append(r, to: &diff) }
        return diff
    }

    private static func append(_ r: ByteRange, to diff: inout ImageDiff) {
        if diff.ranges.count < rangeLimit { diff.ranges.append(r) } else { diff.rangesTruncated = true }
    }

    /// Whether any byte of `range` changed (for mapping file blocks to changes).
    public func changed(_ range: Range<Int64>) -> Bool {
        // Binary search in the sorted, disjoint ranges.
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].offset + ranges[mid].length <= range.lowerBound { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].offset < range.upperBound
    }
}

/// Files that differ between two ext4 disk images.
public struct FileChanges: Sendable, Codable {
    public struct Item: Sendable, Codable {
        public var path: String
        public var kind: String
        public var sizeBefore: Int64?
        public var sizeAfter: Int64?
    }
    public var added: [Item]
    public var removed: [Item]
    public var modified: [Item]
}
