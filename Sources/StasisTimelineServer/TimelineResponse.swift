import Foundation
import Hummingbird
import StasisJSON

/// The forms of the server's answers. Every answer says `nosniff` and `no-store`: JSON is never
/// read as HTML, and what a store holds is not kept in a browser's cache.
enum TimelineResponse {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        bytes(Array(value.canonicalString.utf8), type: "application/json; charset=utf-8", status: status)
    }

    static func encodable<T: Encodable>(_ value: T) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(value) else { return error(.internalServerError, "could not encode the answer") }
        return bytes(Array(data), type: "application/json; charset=utf-8")
    }

    static func html(_ text: String, policy: String) -> Response {
        var r = bytes(Array(text.utf8), type: "text/html; charset=utf-8")
        r.headers[.contentSecurityPolicy] = policy
        return r
    }

    /// `{"error": MESSAGE}` with the status.
    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(["error": .string(message)], status: status)
    }

    static func bytes(_ bytes: [UInt8], type: String, status: HTTPResponse.Status = .ok) -> Response {
        var r = Response(status: status, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        r.headers[.contentType] = type
        secure(&r)
        return r
    }

    static func secure(_ r: inout Response) {
        r.headers[.xContentTypeOptions] = "nosniff"
        r.headers[.cacheControl] = "no-store"
    }
}
