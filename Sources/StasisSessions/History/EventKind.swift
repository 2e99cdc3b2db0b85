import StasisJSON

/// The kinds of history events and the fields each requires (Formats/history.md).
public enum EventKind: String, Sendable, CaseIterable, Codable {
    case commandStarted = "command.started"
    case output = "output"
    case commandExited = "command.exited"
    case fileWritten = "file.written"
    case toolCall = "tool.call"
    case toolResult = "tool.result"
    case message = "message"
    case checkpoint = "checkpoint"
    case restore = "restore"
    case note = "note"

    /// Required fields and their JSON types.
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
