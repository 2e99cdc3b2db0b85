import NIOCore
import NIOHPACK
import NIOHTTP2

/// Refuses a request message larger than the daemon's limit as soon as its 5-byte gRPC prefix
/// arrives — before any of its body is buffered — with a proper gRPC answer: trailers carrying
/// RESOURCE_EXHAUSTED and a message naming the size, the limit and `--max-message`. (The
/// transport's own limit only resets the stream, and the client sees "stream removed".)
///
/// Sits first in each HTTP/2 stream's pipeline; frames of accepted messages pass unchanged.
final class OversizedRequestGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let limit: Int
    /// Where the stream's gRPC framing stands: collecting a message prefix, or inside a message
    /// body with this many bytes to go.
    private var prefix: [UInt8] = []
    private var bodyRemaining = 0
    private var refused = false
    private var answered = false
    private var path = "the request"

    init(limit: Int) { self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }   // the rest of a refused request is dropped unread
        let frame = unwrapInboundIn(data)
        switch frame {
        case .headers(let headers):
            if let name = headers.headers.first(name: ":path") { path = name }
        case .data(let data):
            if case .byteBuffer(let buffer) = data.data, let size = oversizedMessage(in: buffer) {
                refuse(context: context, size: size)
                return
            }
        default:
            break
        }
        context.fireChannelRead(data)
    }

    /// Follows the length-prefixed messages through `buffer`; the size of the first message over
    /// the limit, if one starts here.
    private func oversizedMessage(in buffer: ByteBuffer) -> Int? {
        var view = buffer.readableBytesView[...]
        while !view.isEmpty {
            if bodyRemaining > 0 {
                let skipped = min(bodyRemaining, view.count)
                view = view.dropFirst(skipped)
                bodyRemaining -= skipped
                continue
            }
            let wanted = 5 - prefix.count
            prefix.append(contentsOf: view.prefix(wanted))
            view = view.dropFirst(wanted)
            guard prefix.count == 5 else { return nil }
            let length = prefix[1...4].reduce(0) { $0 << 8 | Int($1) }
            prefix.removeAll(keepingCapacity: true)
            if length > limit { return length }
            bodyRemaining = length
        }
        return nil
    }

    private func refuse(context: ChannelHandlerContext, size: Int) {
        refused = true
        let rpc = path.split(separator: "/").last.map(String.init) ?? path
        let message = "\(rpc) request of \(size) bytes exceeds this daemon's limit of \(limit) bytes (--max-message); split the state or raise the limit"
        // Trailers-only, unless the service already sent response headers.
        var trailers: HPACKHeaders = answered ? [:] : [":status": "200", "content-type": "application/grpc"]
        trailers.add(name: "grpc-status", value: "8")
        trailers.add(name: "grpc-message", value: Self.percentEncoded(message))
        context.write(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        // The client is still sending: RST_STREAM NO_ERROR tells it to stop without overriding
        // the status (as gRPC over HTTP/2 specifies for an early answer); CANCEL would.
        context.writeAndFlush(wrapOutboundOut(.rstStream(.noError)), promise: nil)
        // Closing the stream also ends the RPC inside the server: nothing of the request is used.
        context.close(promise: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !refused else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        if case .headers = unwrapOutboundIn(data) { answered = true }
        context.write(data, promise: promise)
    }

    /// grpc-message is percent-encoded outside printable ASCII, and '%' itself.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if (0x20...0x7E).contains(byte) && byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
