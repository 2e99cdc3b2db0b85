import CFUSE

/// One request the kernel sent over `/dev/fuse`, decoded from its bytes. Only what a single
/// served file needs is decoded; every other operation arrives as `.unsupported` and is answered
/// ENOSYS. A request shorter than its operation's fixed part is refused (`FUSEProtocolError`),
/// never read past its end.
public struct FUSERequest: Sendable, Equatable {
    /// The kernel's id of this request: the reply carries it back.
    public var unique: UInt64
    public var opcode: UInt32
    public var node: UInt64
    /// The calling process's credentials, as the kernel saw them.
    public var uid: UInt32
    public var gid: UInt32
    public var pid: UInt32
    public var operation: Operation

    public enum Operation: Sendable, Equatable {
        case initialize(major: UInt32, minor: UInt32, maxReadahead: UInt32, flags: UInt32)
        case getattr
        /// `valid` holds FATTR_* bits saying which fields are set.
        case setattr(valid: UInt32, size: UInt64, mode: UInt32, uid: UInt32, gid: UInt32)
        case open(flags: UInt32)
        case read(handle: UInt64, offset: UInt64, size: UInt32)
        /// `data`: where the payload lies in the request's bytes (`FUSERequest.payload`).
        case write(handle: UInt64, offset: UInt64, data: Range<Int>, flags: UInt32)
        case flush
        case fsync
        case release
        case statfs
        case access
        /// Needs no reply.
        case forget
        /// Needs no reply (requests here are answered in order; nothing is cancelled).
        case interrupt
        case destroy
        case unsupported
    }

    /// Whether the kernel waits for an answer.
    public var needsReply: Bool {
        switch operation {
        case .forget, .interrupt: false
        default: true
        }
    }

    static let headerSize = MemoryLayout<fuse_in_header>.size

    /// Decodes `bytes` (one whole read from `/dev/fuse`).
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FUSEProtocolError) -> FUSERequest {
        guard bytes.count >= headerSize else { throw .truncated(opcode: nil, needed: headerSize, got: bytes.count) }
        let header = bytes.loadUnaligned(as: fuse_in_header.self)
        guard Int(header.len) == bytes.count else { throw .lengthMismatch(opcode: header.opcode, declared: Int(header.len), got: bytes.count) }
        let body = UnsafeRawBufferPointer(rebasing: bytes[headerSize...])
        func load<T>(_ type: T.Type) throws(FUSEProtocolError) -> T {
            guard body.count >= MemoryLayout<T>.size else {
                throw .truncated(opcode: header.opcode, needed: headerSize + MemoryLayout<T>.size, got: bytes.count)
            }
            return body.loadUnaligned(as: T.self)
        }
        let operation: Operation
        switch fuse_opcode(rawValue: header.opcode) {
        case FUSE_INIT:
            // The first four fields are the same in every protocol version since 7.6.
            guard body.count >= 16 else { throw .truncated(opcode: header.opcode, needed: headerSize + 16, got: bytes.count) }
            operation = .initialize(major: body.loadUnaligned(fromByteOffset: 0, as: UInt32.self), minor: body.loadUnaligned(fromByteOffset: 4, as: UInt32.self),
                                    maxReadahead: body.loadUnaligned(fromByteOffset: 8, as: UInt32.self), flags: body.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        case FUSE_GETATTR: operation = .getattr
        case FUSE_SETATTR:
            let s = try load(fuse_setattr_in.self)
            operation = .setattr(valid: s.valid, size: s.size, mode: s.mode, uid: s.uid, gid: s.gid)
        case FUSE_OPEN: operation = .open(flags: try load(fuse_open_in.self).flags)
        case FUSE_READ:
            let r = try load(fuse_read_in.self)
            operation = .read(handle: r.fh, offset: r.offset, size: r.size)
        case FUSE_WRITE:
            let w = try load(fuse_write_in.self)
            let start = headerSize + MemoryLayout<fuse_write_in>.size
            guard bytes.count - start == Int(w.size) else {
                throw .lengthMismatch(opcode: header.opcode, declared: start + Int(w.size), got: bytes.count)
            }
            operation = .write(handle: w.fh, offset: w.offset, data: start..<bytes.count, flags: w.write_flags)
        case FUSE_FLUSH: operation = .flush
        case FUSE_FSYNC: operation = .fsync
        case FUSE_RELEASE: operation = .release
        case FUSE_STATFS: operation = .statfs
        case FUSE_ACCESS: operation = .access
        case FUSE_FORGET, FUSE_BATCH_FORGET: operation = .forget
        case FUSE_INTERRUPT: operation = .interrupt
        case FUSE_DESTROY: operation = .destroy
        default: operation = .unsupported
        }
        return FUSERequest(unique: header.unique, opcode: header.opcode, node: header.nodeid, uid: header.uid, gid: header.gid,
                           pid: header.pid, operation: operation)
    }
}

/// A request that does not decode: the session answers it EIO (when its id could be read) and
/// goes on; the kernel never sends one, so this means a bug or a foreign writer.
public enum FUSEProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated(opcode: UInt32?, needed: Int, got: Int)
    case lengthMismatch(opcode: UInt32, declared: Int, got: Int)

    public var description: String {
        switch self {
        case .truncated(let op, let needed, let got):
            return "FUSE request\(op.map { " (opcode \($0))" } ?? "") is \(got) bytes, shorter than the \(needed) its operation needs"
        case .lengthMismatch(let op, let declared, let got):
            return "FUSE request (opcode \(op)) says \(declared) bytes but \(got) arrived"
        }
    }
}
