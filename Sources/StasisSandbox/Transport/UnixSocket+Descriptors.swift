import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension UnixSocket {
    /// Sends `text` with `descriptor` attached (SCM_RIGHTS), as QMP's `getfd` expects: the
    /// descriptor travels with the command that names it. The receiver gets its own copy; ours
    /// stays open for the caller to close.
    func send(_ text: String, passing descriptor: Int32) throws(SandboxError) {
        var bytes = Array(text.utf8)
        let space = Self.controlSpace(for: MemoryLayout<Int32>.size)
        var control = [UInt8](repeating: 0, count: space)
        let sent: Int = bytes.withUnsafeMutableBytes { payload in
            control.withUnsafeMutableBytes { controlBytes in
                var vector = iovec(iov_base: payload.baseAddress, iov_len: payload.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    let header = controlBytes.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                    header.pointee.cmsg_level = SOL_SOCKET
                    header.pointee.cmsg_type = Int32(SCM_RIGHTS)
                    header.pointee.cmsg_len = Self.controlLength(for: MemoryLayout<Int32>.size)
                    let data = controlBytes.baseAddress! + MemoryLayout<cmsghdr>.stride
                    data.storeBytes(of: descriptor, as: Int32.self)
                    while true {
                        let n = sendmsg(descriptorForTransfer, &message, Int32(MSG_NOSIGNAL))
                        if n < 0 && errno == EINTR { continue }
                        return n
                    }
                }
            }
        }
        if sent < 0 { throw .io("pass a descriptor on \(path)", errno) }
        // The descriptor went with the first byte; anything the kernel did not take goes plainly.
        if sent < bytes.count { try send(String(decoding: bytes[sent...], as: UTF8.self)) }
    }

    /// CMSG_SPACE and CMSG_LEN, spelled out (they are macros): the header, then the data, each
    /// padded to the size of a long.
    private static func controlSpace(for dataLength: Int) -> Int {
        align(MemoryLayout<cmsghdr>.stride) + align(dataLength)
    }

    private static func controlLength(for dataLength: Int) -> Int {
        align(MemoryLayout<cmsghdr>.stride) + dataLength
    }

    private static func align(_ length: Int) -> Int {
        let unit = MemoryLayout<Int>.size
        return (length + unit - 1) & ~(unit - 1)
    }
}
