import CExt2fs

extension Ext4Image {
    /// Lists every name in the file system: the root directory as "/", then everything below it,
    /// sorted by the UTF-8 bytes of `path`. "." and ".." are skipped; `lost+found` is listed and
    /// descended into like any directory (files fsck recovered there are real content).
    ///
    /// A directory inode reached a second time (a directory hard link or a loop in a hostile image)
    /// is listed under each name but descended into only once, so the walk always ends. Blocks are
    /// mapped for regular files only; link targets are read for symlinks only.
    public func walk(limits: Ext4WalkLimits = Ext4WalkLimits()) throws(Ext4Error) -> [Ext4Entry] {
        let root = Ext4Image.rootInode
        let rootEntry = try entry(path: "/", inode: root)
        guard rootEntry.kind == .directory else {
            throw Ext4Error(imagePath: path, operation: .readInode(root), cause: .corrupt, code: 0,
                            detail: "the root inode is not a directory")
        }
        var entries = [rootEntry]
        var visitedDirectories: Set<UInt32> = [root]
        // Depth-first with an explicit stack: hostile depth cannot overflow the call stack.
        var pending: [(path: String, inode: UInt32, depth: Int)] = [("/", root, 0)]
        while let directory = pending.popLast() {
            let children = try listDirectory(directory.inode, path: directory.path,
                                             room: limits.maxEntries - entries.count)
            for child in children {
                if entries.count >= limits.maxEntries {
                    throw limitError("more than \(limits.maxEntries) entries")
                }
                let depth = directory.depth + 1
                if depth > limits.maxDepth {
                    throw limitError("'\(directory.path)' has entries deeper than \(limits.maxDepth) levels")
                }
                let childPath = (directory.path == "/" ? "/" : directory.path + "/") + Self.decodeName(child.name)
                if childPath.utf8.count > limits.maxPathBytes {
                    throw limitError("a path under '\(directory.path)' is longer than \(limits.maxPathBytes) bytes")
                }
                let item = try entry(path: childPath, inode: child.inode)
                entries.append(item)
                if item.kind == .directory, visitedDirectories.insert(child.inode).inserted {
                    pending.append((childPath, child.inode, depth))
                }
            }
        }
        entries.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return entries
    }

    /// Builds the entry for one inode: its metadata, plus blocks (regular files) or target (symlinks).
    func entry(path entryPath: String, inode: UInt32) throws(Ext4Error) -> Ext4Entry {
        let info = try readInode(inode)
        let kind = Ext4Entry.kind(ofMode: info.mode)
        var entry = Ext4Entry(path: entryPath, inode: inode, kind: kind, size: info.size, mode: info.mode,
                              uid: info.uid, gid: info.gid, mtime: info.mtime_sec,
                              mtimeNanoseconds: info.mtime_nsec, linkCount: info.links_count)
        switch kind {
        case .file: entry.blocks = try blockRanges(inode, path: entryPath)
        case .symlink: entry.linkTarget = try linkTarget(inode, path: entryPath)
        case .directory, .other: break
        }
        return entry
    }

    /// The live entries of one directory, "." and ".." removed; stops early once more than `room`
    /// were seen (the caller then reports the limit).
    func listDirectory(_ inode: UInt32, path directoryPath: String, room: Int) throws(Ext4Error)
        -> [(inode: UInt32, name: [UInt8])]
    {
        typealias State = (children: [(inode: UInt32, name: [UInt8])], room: Int)
        var state: State = ([], room)
        let code = withUnsafeMutablePointer(to: &state) { statePointer in
            stasis_ext2_dir_iterate(handle, inode, { context, inode, name, length in
                let state = context!.assumingMemoryBound(to: State.self)
                let bytes = Array(UnsafeRawBufferPointer(start: name, count: Int(max(length, 0))))
                if bytes == [0x2E] || bytes == [0x2E, 0x2E] { return 0 }  // "." and ".."
                state.pointee.children.append((inode, bytes))
                return state.pointee.children.count > state.pointee.room ? 1 : 0
            }, statePointer)
        }
        guard code == 0 else {
            throw Ext4Error(imagePath: path, operation: .listDirectory(path: directoryPath, inode: inode), code: code)
        }
        return state.children
    }

    /// The physical data blocks of a regular file, contiguous runs merged.
    func blockRanges(_ inode: UInt32, path filePath: String) throws(Ext4Error) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        let code = withUnsafeMutablePointer(to: &ranges) { rangesPointer in
            stasis_ext2_block_ranges(handle, inode, { context, first, count in
                context!.assumingMemoryBound(to: [Range<UInt64>].self).pointee.append(first..<(first + count))
                return 0
            }, rangesPointer)
        }
        guard code == 0 else {
            throw Ext4Error(imagePath: path, operation: .mapBlocks(path: filePath, inode: inode), code: code)
        }
        return ranges
    }

    /// A symlink's target, at most 4096 bytes (Linux's PATH_MAX), decoded lossily as UTF-8.
    func linkTarget(_ inode: UInt32, path linkPath: String) throws(Ext4Error) -> String {
        let capacity = 4096
        var length = 0
        var code = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                code = stasis_ext2_read_link(handle, inode, chars.baseAddress, capacity, &length)
            }
            initialized = code == 0 ? min(length, capacity) : 0
        }
        guard code == 0 else {
            throw Ext4Error(imagePath: path, operation: .readLink(path: linkPath, inode: inode), code: code)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An on-disk name as a path component: invalid UTF-8, "/" and NUL become U+FFFD, and an empty
    /// name (possible only in a damaged directory) becomes a single U+FFFD.
    static func decodeName(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "\u{FFFD}" }
        let decoded = String(decoding: bytes, as: UTF8.self)
        guard bytes.contains(0x2F) || bytes.contains(0) else { return decoded }
        var scalars = String.UnicodeScalarView()
        for scalar in decoded.unicodeScalars {
            scalars.append(scalar == "/" || scalar == "\0" ? "\u{FFFD}" : scalar)
        }
        return String(scalars)
    }

    private func limitError(_ detail: String) -> Ext4Error {
        Ext4Error(imagePath: path, operation: .limit, cause: .limitExceeded, code: 0, detail: detail)
    }
}
