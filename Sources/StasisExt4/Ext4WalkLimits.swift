/// Bounds that keep `Ext4Image.walk` finite and its memory modest on hostile images (an image is
/// data from inside a sandbox and may have been crafted). Exceeding one throws an `Ext4Error`
/// with cause `.limitExceeded` rather than returning a silently incomplete listing.
public struct Ext4WalkLimits: Sendable, Equatable {
    /// Deepest allowed entry, counted in path components ("/a/b" has depth 2).
    public var maxDepth: Int
    /// Longest allowed path, in UTF-8 bytes.
    public var maxPathBytes: Int
    /// Most entries a walk returns.
    public var maxEntries: Int

    public init(maxDepth: Int = 4096, maxPathBytes: Int = 65_536, maxEntries: Int = 20_000_000) {
        self.maxDepth = maxDepth
        self.maxPathBytes = maxPathBytes
        self.maxEntries = maxEntries
    }
}
