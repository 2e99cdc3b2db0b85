/// One path in an `Ext4DiffResult`. For an added path the "before" fields are nil, for a removed
/// one the "after" fields are nil.
public struct Ext4DiffItem: Sendable, Codable, Equatable {
    public var path: String
    public var kindBefore: Ext4Entry.Kind?
    public var kindAfter: Ext4Entry.Kind?
    public var sizeBefore: UInt64?
    public var sizeAfter: UInt64?
    public var inodeBefore: UInt32?
    public var inodeAfter: UInt32?
    /// What differs, in `Ext4Change.allCases` order; empty for added and removed paths.
    public var changes: [Ext4Change]

    public init(before: Ext4Entry?, after: Ext4Entry?, changes: [Ext4Change] = []) {
        self.path = after?.path ?? before?.path ?? ""
        self.kindBefore = before?.kind
        self.kindAfter = after?.kind
        self.sizeBefore = before?.size
        self.sizeAfter = after?.size
        self.inodeBefore = before?.inode
        self.inodeAfter = after?.inode
        self.changes = changes
    }

    /// Field by field, with `path` compared as UTF-8 bytes.
    public static func == (a: Ext4DiffItem, b: Ext4DiffItem) -> Bool {
        a.path.utf8.elementsEqual(b.path.utf8) && a.kindBefore == b.kindBefore && a.kindAfter == b.kindAfter
            && a.sizeBefore == b.sizeBefore && a.sizeAfter == b.sizeAfter && a.inodeBefore == b.inodeBefore
            && a.inodeAfter == b.inodeAfter && a.changes == b.changes
    }

    /// The kind after the change, or before it for a removed path.
    public var kind: Ext4Entry.Kind? { kindAfter ?? kindBefore }
}
