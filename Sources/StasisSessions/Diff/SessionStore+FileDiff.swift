import Foundation
import StasisExt4
import StasisIO
import StasisStore

extension SessionStore {
    /// Files added, removed and modified between two disk images, or nil when either is not an
    /// ext4 file system. Both images are materialized (sparse) into the store's tmp directory and
    /// read through libext2fs — never mounted; a file counts as modified when its metadata differs
    /// or one of its blocks lies in a changed chunk and its bytes really differ.
    func fileChanges(before: String, after: String, diff: ImageDiff) throws(HistoryError) -> FileChanges? {
        let a = store.temporaryPath(".diff-before.img"), b = store.temporaryPath(".diff-after.img")
        defer { try? FileSystem.remove(a); try? FileSystem.remove(b) }
        try HistoryError.wrap { () throws(StoreError) in
            _ = try store.materialize(before, to: a)
            _ = try store.materialize(after, to: b)
        }
        let x: Ext4Image, y: Ext4Image
        do throws(Ext4Error) {
            x = try Ext4Image.open(path: a)
            y = try Ext4Image.open(path: b)
        } catch {
            if error.cause == .notExt4 { return nil }
            throw .badArgument(field: diff.name, message: error.description)
        }
        do throws(Ext4Error) {
            let blockSize = Int64(x.blockSize)
            let coarse = Ext4Diff.compare(try x.walk(), try y.walk()) { blocks in
                diff.changed(Int64(blocks.lowerBound) * blockSize..<Int64(blocks.upperBound) * blockSize)
            }
            let result = try Ext4Diff.dropUnchangedContent(coarse, before: x, after: y)
            func item(_ i: Ext4DiffItem) -> FileChanges.Item {
                FileChanges.Item(path: i.path, kind: (i.kind.map { "\($0)" }) ?? "other",
                                 sizeBefore: i.sizeBefore.map(Int64.init), sizeAfter: i.sizeAfter.map(Int64.init))
            }
            return FileChanges(added: result.added.map(item), removed: result.removed.map(item), modified: result.modified.map(item))
        } catch {
            throw .badArgument(field: diff.name, message: error.description)
        }
    }
}
