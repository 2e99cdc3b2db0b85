/// Just enough XML for S3's answers (error bodies, listings, upload ids): the text of elements
/// found by name, with the five predefined entities and numeric references decoded. S3's answers
/// are flat and never use CDATA or attributes on these elements, so no general parser is needed.
enum XMLText {
    /// The text of every `<name>…</name>` in `xml`, in order.
    static func all(_ name: String, in xml: Substring) -> [String] {
        let open = "<" + name + ">", close = "</" + name + ">"
        var found: [String] = []
        var rest = xml
        while let start = rest.firstRange(of: open) {
            let after = rest[start.upperBound...]
            guard let end = after.firstRange(of: close) else { break }
            found.append(decode(after[..<end.lowerBound]))
            rest = after[end.upperBound...]
        }
        return found
    }

    static func first(_ name: String, in xml: Substring) -> String? {
        let open = "<" + name + ">", close = "</" + name + ">"
        guard let start = xml.firstRange(of: open) else { return nil }
        let after = xml[start.upperBound...]
        guard let end = after.firstRange(of: close) else { return nil }
        return decode(after[..<end.lowerBound])
    }

    /// The elements' inner XML (undecoded), for nested records such as `<Contents>`.
    static func elements(_ name: String, in xml: Substring) -> [Substring] {
        let open = "<" + name + ">", close = "</" + name + ">"
        var found: [Substring] = []
        var rest = xml
        while let start = rest.firstRange(of: open) {
            let after = rest[start.upperBound...]
            guard let end = after.firstRange(of: close) else { break }
            found.append(after[..<end.lowerBound])
            rest = after[end.upperBound...]
        }
        return found
    }

    static func decode(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let scalar: UInt32? = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let scalar, let u = Unicode.Scalar(scalar) { out.unicodeScalars.append(u) } else { out += "&" + entity + ";" }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
