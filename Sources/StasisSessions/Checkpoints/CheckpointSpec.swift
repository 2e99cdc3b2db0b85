import StasisJSON

/// What a new checkpoint holds, as files on disk (so checkpoints work before any VM driver):
/// images are captured into the chunk store, blobs stored by content-defined chunking.
public struct CheckpointSpec: Sendable {
    public struct ImageFile: Sendable {
        public var name: String
        public var path: String
        /// Sparse diff against the parent checkpoint's image of the same name (incremental).
        public var dirty: String?
        /// The image `dirty` is a diff against, when not the parent checkpoint's (a lazily
        /// restored sandbox's memory: the image it was restored from).
        public var base: String?
        public init(name: String, path: String, dirty: String? = nil, base: String? = nil) {
            self.name = name; self.path = path; self.dirty = dirty; self.base = base
        }
    }
    public struct BlobFile: Sendable {
        public var name: String
        public var path: String
        /// The blob id of the file's contents when the caller already knows it (a kernel that
        /// every checkpoint of a sandbox shares): used as is when the store holds that blob.
        public var knownID: String?
        public init(name: String, path: String, knownID: String? = nil) { self.name = name; self.path = path; self.knownID = knownID }
    }

    public var images: [ImageFile]
    public var blobs: [BlobFile]
    /// The checkpoint this one follows; nil with `noParent` false means the session's latest.
    public var parent: String?
    public var noParent: Bool
    public var labels: [String: String]
    public var meta: [String: JSONValue]

    public init(images: [ImageFile] = [], blobs: [BlobFile] = [], parent: String? = nil, noParent: Bool = false,
                labels: [String: String] = [:], meta: [String: JSONValue] = [:]) {
        self.images = images; self.blobs = blobs; self.parent = parent; self.noParent = noParent
        self.labels = labels; self.meta = meta
    }
}
