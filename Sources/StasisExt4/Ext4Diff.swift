/// Compares two listings of ext4 images (from `Ext4Image.walk()`), typically two checkpoints of
/// the same sandbox disk, so that block numbers refer to the same disk offsets in both.
///
/// Paths are matched by their exact UTF-8 bytes (not by `String` equality, which would merge
/// Unicode-equivalent but distinct names). A path present in both listings is modified when:
/// - its kind differs (reported as `.kind` alone), or
/// - its permission bits or owner differ (any kind), or
/// - for a regular file: size or mtime differ, or any data block range, in either image, satisfies
///   `changedBlocks` (`.content`); the ranges of both sides are checked because a rewrite may move
///   the data and either the old or the new place shows the change;
/// - for a symlink: target or mtime differ; for other kinds: mtime differs.
///
/// Directories are reported only for kind, mode or owner changes: their size, mtime and blocks
/// change whenever an entry is added or removed, which the result already lists.
/// Files with inline data have no blocks, so their in-place content changes are seen only through
/// size or mtime.
public enum Ext4Diff {
    /// - Parameter changedBlocks: answers "did any byte of these disk blocks (in units of the
    ///   images' block size) change between the two images"; it is called only for regular files.
    public static func compare(_ a: [Ext4Entry], _ b: [Ext4Entry],
                               changedBlocks: (Range<UInt64>) -> Bool) -> Ext4DiffResult {
        let before = Dictionary(a.map { (Array($0.path.utf8), $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(b.map { (Array($0.path.utf8), $0) }, uniquingKeysWith: { first, _ in first })
        var result = Ext4DiffResult()
        for (key, new) in after {
            guard let old = before[key] else {
                result.added.append(Ext4DiffItem(before: nil, after: new))
                continue
            }
            let changes = differences(old, new, changedBlocks: changedBlocks)
            if !changes.isEmpty {
                result.modified.append(Ext4DiffItem(before: old, after: new, changes: changes))
            }
        }
        for (key, old) in before where after[key] == nil {
            result.removed.append(Ext4DiffItem(before: old, after: nil))
        }
        sortByPath(&result)
        return result
    }

    /// Re-checks the `.content` changes of `result` by comparing the files' bytes in the two
    /// images (same size only: a size change keeps `.content`). A change found equal is dropped,
    /// and an item left without changes is removed. Use it when `changedBlocks` was answered at a
    /// coarser granularity than the block (for example whole content-defined chunks), or when the
    /// images were built independently so that blocks moved.
    public static func dropUnchangedContent(_ result: Ext4DiffResult, before: Ext4Image,
                                            after: Ext4Image) throws(Ext4Error) -> Ext4DiffResult {
        var refined = result
        refined.modified = []
        for item in result.modified {
            var item = item
            if item.changes.contains(.content), item.kindBefore == .file, item.kindAfter == .file,
               item.sizeBefore == item.sizeAfter, let old = item.inodeBefore, let new = item.inodeAfter
            {
                let equal = try Ext4Image.sameBytes(
                    Ext4FileReader(image: before, inode: old, path: item.path),
                    Ext4FileReader(image: after, inode: new, path: item.path))
                if equal { item.changes.removeAll { $0 == .content } }
            }
            if !item.changes.isEmpty { refined.modified.append(item) }
        }
        return refined
    }

    static func differences(_ old: Ext4Entry, _ new: Ext4Entry,
                            changedBlocks: (Range<UInt64>) -> Bool) -> [Ext4Change] {
        guard old.kind == new.kind else { return [.kind] }
        var changes: Set<Ext4Change> = []
        if old.permissions != new.permissions { changes.insert(.mode) }
        if old.uid != new.uid || old.gid != new.gid { changes.insert(.owner) }
        let mtimeDiffers = old.mtime != new.mtime || old.mtimeNanoseconds != new.mtimeNanoseconds
        switch new.kind {
        case .file:
            if old.size != new.size { changes.insert(.size) }
            if mtimeDiffers { changes.insert(.mtime) }
            if old.blocks.contains(where: changedBlocks) || new.blocks.contains(where: changedBlocks) {
                changes.insert(.content)
            }
        case .symlink:
            // Byte-wise, like paths: canonically equivalent targets are still different targets.
            if old.linkTarget.map({ Array($0.utf8) }) != new.linkTarget.map({ Array($0.utf8) }) || old.size != new.size {
                changes.insert(.linkTarget)
            }
            if mtimeDiffers { changes.insert(.mtime) }
        case .other:
            if mtimeDiffers { changes.insert(.mtime) }
        case .directory:
            break
        }
        return Ext4Change.allCases.filter(changes.contains)
    }

    private static func sortByPath(_ result: inout Ext4DiffResult) {
        let order: (Ext4DiffItem, Ext4DiffItem) -> Bool = { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        result.added.sort(by: order)
        result.removed.sort(by: order)
        result.modified.sort(by: order)
    }
}
