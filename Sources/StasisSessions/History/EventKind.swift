import StasisJSON

/// The kind of a history event (Formats/history.md): one of the built-in kinds, whose fields
/// Stasis knows and checks, or a namespaced kind `x-NAME.kind` that another tool defines (e.g.
/// `x-langgraph.step`): NAME is lowercase letters, digits and '-', the kind after the first '.'
/// lowercase letters, digits, '-' and '.'; its fields are any JSON object, shown generically.
public struct EventKind: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// A built-in kind or a well-formed `x-NAME.kind`; nil for anything else.
    public init?(rawValue: String) {
        guard Self.builtIn.contains(where: { $0.rawValue == rawValue }) || Self.isNamespaced(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    private init(builtIn name: String) { rawValue = name }

    public static let commandStarted = EventKind(builtIn: "command.started")
    public static let output = EventKind(builtIn: "output")
    public static let commandExited = EventKind(builtIn: "command.exited")
    public static let fileWritten = EventKind(builtIn: "file.written")
    public static let toolCall = EventKind(builtIn: "tool.call")
    public static let toolResult = EventKind(builtIn: "tool.result")
    public static let message = EventKind(builtIn: "message")
    public static let checkpoint = EventKind(builtIn: "checkpoint")
    public static let restore = EventKind(builtIn: "restore")
    public static let note = EventKind(builtIn: "note")

    /// The kinds Stasis defines, in the order the docs list them.
    public static let builtIn: [EventKind] = [
        .commandStarted, .output, .commandExited, .fileWritten, .toolCall, .toolResult, .message, .checkpoint, .restore, .note,
    ]

    /// Longest namespaced kind, in bytes.
    public static let maxNamespacedLength = 128

    /// Whether this is a namespaced `x-NAME.kind` (not a built-in one).
    public var isNamespaced: Bool { rawValue.hasPrefix("x-") }

    /// What an error about an unknown kind lists.
    public static var accepted: String {
        builtIn.map(\.rawValue).joined(separator: ", ") + ", or a namespaced x-NAME.kind (lowercase letters, digits, '-'; e.g. x-langgraph.step)"
    }

    public var description: String { rawValue }

    static func isNamespaced(_ name: String) -> Bool {
        guard name.hasPrefix("x-"), name.utf8.count <= maxNamespacedLength else { return false }
        let rest = name.utf8.dropFirst(2)
        guard let dot = rest.firstIndex(of: UInt8(ascii: ".")) else { return false }
        let vendor = rest[..<dot], kind = rest[rest.index(after: dot)...]
        func allowed(_ c: UInt8, dots: Bool) -> Bool {
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || c == UInt8(ascii: "-") || (dots && c == UInt8(ascii: "."))
        }
        return !vendor.isEmpty && !kind.isEmpty && vendor.allSatisfy { allowed($0, dots: false) } && kind.allSatisfy { allowed($0, dots: true) }
            && kind.last != UInt8(ascii: ".")
    }

    /// Required fields and their JSON types (none for a namespaced kind).
    var required: [(field: String, type: FieldType)] {
        switch self {
        case .commandStarted: [("command", .string)]
        case .output: [("stream", .string), ("data", .string)]
        case .commandExited: [("code", .integer)]
        case .fileWritten: [("path", .string)]
        case .toolCall: [("name", .string)]
        case .toolResult: [("name", .string)]
        case .message: [("role", .string), ("content", .any)]
        case .checkpoint: [("checkpoint", .string)]
        case .restore: [("checkpoint", .string)]
        case .note: [("text", .string)]
        default: []
        }
    }

    enum FieldType {
        case string, integer, number, any

        func accepts(_ v: JSONValue) -> Bool {
            switch self {
            case .string: return v.stringValue != nil
            case .integer: return v.intValue != nil
            case .number: return v.doubleValue != nil
            case .any: return true
            }
        }

        var name: String {
            switch self {
            case .string: "a string"
            case .integer: "an integer"
            case .number: "a number"
            case .any: "any value"
            }
        }
    }
}
