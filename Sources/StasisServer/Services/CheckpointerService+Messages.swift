import StasisAPI
import StasisGraphStore

// Protobuf messages <-> library types, in one place.

extension GraphKey {
    init(_ key: Stasis_V1_CheckpointKey) {
        self.init(thread: key.threadID, namespace: key.checkpointNs, checkpoint: key.checkpointID)
    }
}

extension GraphValue {
    init(_ typed: Stasis_V1_Typed) {
        self.init(type: typed.type, bytes: [UInt8](typed.data))
    }
}

extension ValueDelta {
    init(_ d: Stasis_V1_ValueDelta) {
        let start = Int(clamping: d.copyOffset)
        let end = start.addingReportingOverflow(Int(clamping: d.copyLength))
        self.init(baseVersion: d.baseVersion, head: [UInt8](d.head), copy: start..<(end.overflow ? Int.max : max(start, end.partialValue)),
                  tail: [UInt8](d.tail))
    }
}

extension Stasis_V1_Typed {
    init(_ value: GraphValue) {
        self.init()
        type = value.type
        data = .init(value.bytes)
    }
}

extension Stasis_V1_CheckpointKey {
    init(_ key: GraphKey) {
        self.init()
        threadID = key.thread
        checkpointNs = key.namespace
        checkpointID = key.checkpoint
    }
}

extension Stasis_V1_CheckpointTuple {
    init(_ tuple: CheckpointTuple) {
        self.init()
        key = .init(tuple.key)
        parentCheckpointID = tuple.parent ?? ""
        checkpoint = .init(tuple.checkpoint)
        metadata = .init(tuple.metadata)
        values = tuple.values.map { v in
            var out = Stasis_V1_ChannelValue()
            out.channel = v.channel
            out.version = v.version
            if let value = v.value { out.value = .init(value) }
            return out
        }
        pendingWrites = tuple.pendingWrites.map { w in
            var out = Stasis_V1_PendingWrite()
            out.taskID = w.taskID
            out.channel = w.channel
            out.value = .init(w.value)
            out.taskPath = w.taskPath
            out.idx = w.index
            return out
        }
    }
}

extension Stasis_V1_DeleteResponse {
    static func deleted(_ n: Int) -> Self {
        var r = Self()
        r.checkpointsDeleted = UInt64(n)
        return r
    }
}
