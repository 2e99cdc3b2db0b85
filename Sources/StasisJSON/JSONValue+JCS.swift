/// The JSON Canonicalization Scheme (RFC 8785), the encoding of version-2 records and events
/// (Formats/canonical-json.md), so that a verifier in any language can use an off-the-shelf JCS
/// library. It differs from the version-1 form in three places: object keys are sorted by their
/// UTF-16 code units; every number is an IEEE double spelled as ECMAScript's `Number.toString`
/// spells it; and an integer beyond ±2^53 that a double would round cannot be written at all, so
/// encoding refuses it, naming where it is — callers store such values as strings.
extension JSONValue {
    /// A value that RFC 8785 cannot represent exactly.
    public struct JCSError: Error, Sendable, Equatable, CustomStringConvertible {
        /// Where in the value, as a JSON-pointer-like path (`/data/size`, `/meta/0`).
        public var path: String
        public var message: String
        public var description: String { "\(path.isEmpty ? "the value" : path): \(message)" }
    }

    /// The largest integer magnitude a double holds exactly, and so the largest JCS can write.
    public static let jcsIntegerLimit: Int64 = 1 << 53

    public func jcsBytes() throws(JCSError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        try encodeJCS(into: &out, path: "")
        return out
    }

    private func encodeJCS(into out: inout [UInt8], path: String) throws(JCSError) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i):
            // Beyond 2^53 only integers that a double holds exactly and that ECMAScript spells
            // in full (`18446744073709552000` does not fit Int64 and parses as a double; but
            // `9007199254740994` does, and must read back as what a JCS library wrote).
            guard i.magnitude <= UInt64(Self.jcsIntegerLimit) || Self.ecmaScriptNumber(Double(i)) == String(i) else {
                throw JCSError(path: path, message: "the integer \(i) is beyond ±2^53, which a JSON number cannot hold exactly; write it as a string")
            }
            out.append(contentsOf: String(i).utf8)
        case .double(let d):
            guard d.isFinite else { throw JCSError(path: path, message: "NaN and infinities are not JSON numbers") }
            out.append(contentsOf: Self.ecmaScriptNumber(d).utf8)
        case .string(let s): Self.encodeString(s, into: &out)   // the same escapes as version 1
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                try v.encodeJCS(into: &out, path: path + "/\(i)")
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            let keys = o.keys.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }
            for (i, k) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.encodeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                try o[k]!.encodeJCS(into: &out, path: path + "/" + k)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// `Number.prototype.toString` of ECMA-262 (7.1.12.1) for a finite double: the shortest
    /// digits that read back to the same double (Swift's `description` finds them), placed by
    /// ECMAScript's rules — plain decimal for 10^-7 < |d| < 10^21, else `d.ddde±N`.
    public static func ecmaScriptNumber(_ d: Double) -> String {
        if d == 0 { return "0" }   // also -0
        let text = "\(d.magnitude)"
        // Split Swift's spelling into its digits and the power of ten of the first digit.
        var mantissa = Substring(text), exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...])!
        }
        var digits = Array(mantissa.utf8.filter { $0 != UInt8(ascii: ".") })
        // n: where the decimal point falls after the digits' start (ECMA-262's n).
        var n = (mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count) + exponent
        while digits.first == UInt8(ascii: "0") { digits.removeFirst(); n -= 1 }
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        let k = digits.count
        var out = d < 0 ? "-" : ""
        let s = String(decoding: digits, as: UTF8.self)
        if k <= n && n <= 21 {
            out += s + String(repeating: "0", count: n - k)
        } else if 0 < n && n <= 21 {
            out += String(s.prefix(n)) + "." + String(s.dropFirst(n))
        } else if -6 < n && n <= 0 {
            out += "0." + String(repeating: "0", count: -n) + s
        } else {
            let e = n - 1
            out += String(s.prefix(1)) + (k > 1 ? "." + String(s.dropFirst()) : "") + "e" + (e >= 0 ? "+" : "-") + String(e.magnitude)
        }
        return out
    }
}
