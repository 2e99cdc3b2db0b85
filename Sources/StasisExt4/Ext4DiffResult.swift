/// Paths added, removed and modified between two images, each list sorted by the UTF-8 bytes of
/// the path.
public struct Ext4DiffResult: Sendable, Codable, Equatable {
    public var added: [Ext4DiffItem]
    public var removed: [Ext4DiffItem]
    public var modified: [Ext4DiffItem]

    public init(added: [Ext4DiffItem] = [], removed: [Ext4DiffItem] = [], modified: [Ext4DiffItem] = []) {
        self.added = added
        self.removed = removed
        self.modified = modified
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && modified.isEmpty }
}
