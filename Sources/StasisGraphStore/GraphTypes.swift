import StasisJSON

/// A value serialised by LangGraph's serde: its `dumps_typed` pair. Opaque to Stasis.
public struct GraphValue: Sendable, Equatable {
    public var type: String
    public var bytes: [UInt8]

    public init(type: String, bytes: [UInt8]) {
        self.type = type
        self.bytes = bytes
    }
}

/// Where a checkpoint lives: LangGraph's thread, namespace and checkpoint id.
public struct GraphKey: Sendable, Hashable, CustomStringConvertible {
    public var thread: String
    public var namespace: String
    /// Empty in a lookup means "the latest".
    public var checkpoint: String

    public init(thread: String, namespace: String = "", checkpoint: String = "") {
        self.thread = thread
        self.namespace = namespace
        self.checkpoint = checkpoint
    }

    public var description: String {
        "checkpoint \(checkpoint.isEmpty ? "(latest)" : checkpoint) of thread \(thread)"
            + (namespace.isEmpty ? "" : " namespace \(namespace)")
    }
}

/// One channel's value at one version. `value == nil`: the channel was emptied at that version.
/// With `delta`, `value.bytes` is ignored: the bytes are the delta applied to its base.
public struct ChannelUpdate: Sendable, Equatable {
    public var channel: String
    public var version: String
    public var value: GraphValue?
    public var delta: ValueDelta?

    public init(channel: String, version: String, value: GraphValue?, delta: ValueDelta? = nil) {
        self.channel = channel
        self.version = version
        self.value = value
        self.delta = delta
    }
}

/// A value sent as an edit of the same channel's value at an earlier version:
/// `head + base[copy] + tail`. A growing message list is sent as its new messages only.
public struct ValueDelta: Sendable, Equatable {
    public var baseVersion: String
    public var head: [UInt8]
    public var copy: Range<Int>
    public var tail: [UInt8]

    public init(baseVersion: String, head: [UInt8], copy: Range<Int>, tail: [UInt8]) {
        self.baseVersion = baseVersion
        self.head = head
        self.copy = copy
        self.tail = tail
    }
}

/// A task's write, pending until the next checkpoint.
public struct PendingWrite: Sendable, Equatable {
    public var taskID: String
    public var index: Int64
    public var channel: String
    public var value: GraphValue
    public var taskPath: String

    public init(taskID: String, index: Int64, channel: String, value: GraphValue, taskPath: String) {
        self.taskID = taskID
        self.index = index
        self.channel = channel
        self.value = value
        self.taskPath = taskPath
    }
}

/// What `put` stores: the checkpoint without its channel values, its metadata, every channel's
/// version, and the values of the channels that changed.
public struct CheckpointPut: Sendable {
    public var key: GraphKey
    public var parent: String?
    public var checkpoint: GraphValue
    public var metadata: GraphValue
    /// The same metadata as a JSON object (filters, run ids).
    public var metadataJSON: String
    public var versions: [String: String]
    public var newValues: [ChannelUpdate]

    public init(key: GraphKey, parent: String?, checkpoint: GraphValue, metadata: GraphValue, metadataJSON: String,
                versions: [String: String], newValues: [ChannelUpdate]) {
        self.key = key
        self.parent = parent
        self.checkpoint = checkpoint
        self.metadata = metadata
        self.metadataJSON = metadataJSON
        self.versions = versions
        self.newValues = newValues
    }
}

/// A stored checkpoint as LangGraph's `CheckpointTuple` needs it.
public struct CheckpointTuple: Sendable {
    public var key: GraphKey
    public var parent: String?
    public var checkpoint: GraphValue
    public var metadata: GraphValue
    /// Resolved channel values (emptied channels left out).
    public var values: [ChannelUpdate]
    public var pendingWrites: [PendingWrite]
}

/// What `list` selects. Nil fields do not filter.
public struct CheckpointQuery: Sendable {
    public var thread: String?
    public var namespace: String?
    public var checkpoint: String?
    public var before: String?
    /// Every key must equal the checkpoint metadata's value for that key.
    public var metadataFilter: [String: JSONValue]
    public var limit: Int?

    public init(thread: String? = nil, namespace: String? = nil, checkpoint: String? = nil, before: String? = nil,
                metadataFilter: [String: JSONValue] = [:], limit: Int? = nil) {
        self.thread = thread
        self.namespace = namespace
        self.checkpoint = checkpoint
        self.before = before
        self.metadataFilter = metadataFilter
        self.limit = limit
    }
}

/// How `prune` treats each thread.
public enum PruneStrategy: Sendable {
    /// The newest checkpoint of each namespace stays, with its writes and values.
    case keepLatest
    /// Everything of the thread goes.
    case delete
}
