/// SigV4's encoding: RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) stay, every other
/// UTF-8 byte becomes %XX with uppercase hex; '/' stays in paths.
enum URIEncoding {
    static func encode(_ text: String, keepSlash: Bool) -> String {
        var out: [UInt8] = []
        let hex = Array("0123456789ABCDEF".utf8)
        for b in text.utf8 {
            if isUnreserved(b) || (keepSlash && b == UInt8(ascii: "/")) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// The path as it goes on the wire and into the canonical request.
    static func canonicalPath(_ path: String, normalize: Bool) -> String {
        let p = normalize ? normalized(path) : path
        return p.isEmpty ? "/" : encode(p, keepSlash: true)
    }

    /// RFC 3986 dot-segment removal, and empty segments dropped (`//a//` → `/a/`).
    static func normalized(_ path: String) -> String {
        var segments: [Substring] = []
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        for part in parts {
            if part == "." { continue }
            if part == ".." { _ = segments.popLast(); continue }
            segments.append(part)
        }
        let trailingSlash = path.hasSuffix("/") || parts.last == "." || parts.last == ".."
        var out = "/" + segments.joined(separator: "/")
        if trailingSlash && !segments.isEmpty { out += "/" }
        return out
    }

    /// Names and values encoded, sorted by name then value, joined as `a=1&b=2`.
    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (encode($0.name, keepSlash: false), encode($0.value, keepSlash: false)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }
}
