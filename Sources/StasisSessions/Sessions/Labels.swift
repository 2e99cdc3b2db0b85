/// Labels of sessions and checkpoints: what `session ls`, `checkpoint show` and the daemon print
/// and what scripts match on, so they must not carry anything that could forge a line of output
/// or hide text (Formats/checkpoint.md, "Labels").
///
/// - a name is 1 to 128 ASCII characters: a letter or digit, then letters, digits and `_.:/-`;
/// - a value is at most 1024 bytes of UTF-8 without control characters (C0, DEL, C1: no
///   newline, tab or escape), line or paragraph separators, or bidirectional overrides;
/// - at most 64 labels.
public enum Labels {
    public static let maxNameLength = 128
    public static let maxValueBytes = 1024
    public static let maxCount = 64

    /// Whether `name` is a valid label name.
    public static func isValidName(_ name: String) -> Bool {
        let scalars = name.unicodeScalars
        guard let first = scalars.first, scalars.count <= maxNameLength, isAlphanumeric(first) else { return false }
        return scalars.allSatisfy { isAlphanumeric($0) || "_.:/-".unicodeScalars.contains($0) }
    }

    /// The first character of `value` that a label value may not hold, if any.
    public static func forbiddenScalar(in value: String) -> Unicode.Scalar? {
        value.unicodeScalars.first { s in
            switch s.value {
            case 0x00...0x1F, 0x7F...0x9F: return true                    // C0, DEL, C1 controls
            case 0x2028, 0x2029: return true                              // line and paragraph separators
            case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true   // bidi marks and overrides
            default: return false
            }
        }
    }

    /// Checks labels against the rules above; the error names the label and what is wrong.
    public static func validate(_ labels: [String: String], field: String = "--label") throws(HistoryError) {
        if labels.count > maxCount { throw .badArgument(field: field, message: "\(labels.count) labels are more than the \(maxCount) allowed") }
        for (name, value) in labels.sorted(by: { $0.key < $1.key }) {
            guard isValidName(name) else {
                throw .badArgument(field: "\(field) \(quoted(name))", message: "label names are 1 to \(maxNameLength) ASCII letters, digits and _.:/-, starting with a letter or digit")
            }
            if value.utf8.count > maxValueBytes {
                throw .badArgument(field: "\(field) \(name)", message: "the value is \(value.utf8.count) bytes; label values hold at most \(maxValueBytes)")
            }
            if let bad = forbiddenScalar(in: value) {
                throw .badArgument(field: "\(field) \(name)", message: "the value holds U+\(String(bad.value, radix: 16, uppercase: true).leftPadded(4)), a control, separator or bidirectional character; label values are one line of printable text")
            }
        }
    }

    private static func isAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return false
        }
    }

    /// A name as it may be printed in an error: escaped, so that the message itself stays one line.
    private static func quoted(_ name: String) -> String {
        "'" + name.unicodeScalars.prefix(64).map { $0.escaped(asASCII: true) }.joined() + (name.unicodeScalars.count > 64 ? "…" : "") + "'"
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
