import StasisJSON

/// A checkpoint's channel versions as stored: canonical JSON `{"channel": "version", ...}`.
enum GraphVersions {
    static func encode(_ versions: [String: String]) -> [UInt8] {
        JSONValue.object(versions.mapValues { .string($0) }).canonicalBytes
    }

    static func decode(_ bytes: [UInt8]) -> [String: String]? {
        guard let object = (try? JSONValue.parse(bytes))?.objectValue else { return nil }
        var out: [String: String] = [:]
        for (k, v) in object {
            guard let s = v.stringValue else { return nil }
            out[k] = s
        }
        return out
    }
}
