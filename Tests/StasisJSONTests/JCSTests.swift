import Foundation
import PropertyBased
import Testing
@testable import StasisJSON

/// Invariants checked: numbers are spelled as ECMAScript spells them (RFC 8785's own test
/// vectors) and read back to the same double; keys are ordered by UTF-16 code units; the
/// encoding is stable under parse and re-encode; an integer beyond ±2^53 is refused, naming
/// where it is, never rounded.
@Suite("RFC 8785 (JCS)")
struct JCSTests {
    /// RFC 8785, Appendix B: IEEE 754 bit patterns and the text JCS writes for them.
    static let numberVectors: [(UInt64, String)] = [
        (0x0000_0000_0000_0000, "0"),
        (0x8000_0000_0000_0000, "0"),
        (0x0000_0000_0000_0001, "5e-324"),
        (0x8000_0000_0000_0001, "-5e-324"),
        (0x7FEF_FFFF_FFFF_FFFF, "1.7976931348623157e+308"),
        (0xFFEF_FFFF_FFFF_FFFF, "-1.7976931348623157e+308"),
        (0x4340_0000_0000_0000, "9007199254740992"),
        (0xC340_0000_0000_0000, "-9007199254740992"),
        (0x4430_0000_0000_0000, "295147905179352830000"),
        (0x44B5_2D02_C7E1_4AF5, "9.999999999999997e+22"),
        (0x44B5_2D02_C7E1_4AF6, "1e+23"),
        (0x44B5_2D02_C7E1_4AF7, "1.0000000000000001e+23"),
        (0x444B_1AE4_D6E2_EF4E, "999999999999999700000"),
        (0x444B_1AE4_D6E2_EF4F, "999999999999999900000"),
        (0x444B_1AE4_D6E2_EF50, "1e+21"),
        (0x3EB0_C6F7_A0B5_ED8C, "9.999999999999997e-7"),
        (0x3EB0_C6F7_A0B5_ED8D, "0.000001"),
        (0x41B3_DE43_5555_5553, "333333333.3333332"),
        (0x41B3_DE43_5555_5554, "333333333.33333325"),
        (0x41B3_DE43_5555_5555, "333333333.3333333"),
        (0x41B3_DE43_5555_5556, "333333333.3333334"),
        (0x41B3_DE43_5555_5557, "333333333.33333343"),
        (0xBECB_F647_612F_3696, "-0.0000033333333333333333"),
        (0x4314_3FF3_C1CB_0959, "1424953923781206.2"),
    ]

    @Test("numbers: RFC 8785's vectors")
    func numbers() throws {
        for (bits, text) in Self.numberVectors {
            let d = Double(bitPattern: bits)
            #expect(JSONValue.ecmaScriptNumber(d) == text, "0x\(String(bits, radix: 16))")
            #expect(try JSONValue.double(d).jcsBytes() == Array(text.utf8))
        }
        #expect(try JSONValue.double(1e-7).jcsBytes() == Array("1e-7".utf8))
        #expect(try JSONValue.double(123.456).jcsBytes() == Array("123.456".utf8))
        #expect(try JSONValue.double(2.5).jcsBytes() == Array("2.5".utf8))
    }

    @Test("numbers read back to the same double (property)")
    func numbersRoundTrip() async {
        await propertyCheck(count: 2000, input: Gen.uint64()) { bits in
            let d = Double(bitPattern: bits)
            guard d.isFinite else { return }
            let text = JSONValue.ecmaScriptNumber(d)
            #expect(Double(text) == d || (d == 0 && text == "0"), "\(d) → \(text)")
            // The JSON number grammar: no leading '+', no bare '.', an exponent with its sign.
            #expect(text.range(of: #"^-?(0|[1-9][0-9]*)(\.[0-9]+)?(e[+-][0-9]+)?$"#, options: .regularExpression) != nil, "\(text)")
        }
    }

    @Test("keys in UTF-16 order: RFC 8785's sorting example")
    func keyOrder() throws {
        let v: JSONValue = .object(["\u{20AC}": "Euro Sign", "\r": "Carriage Return", "\u{FB33}": "Hebrew Letter Dalet With Dagesh",
                                    "1": "One", "😀": "Emoji: Grinning Face", "\u{80}": "Control", "ö": "Latin Small Letter O With Diaeresis"])
        let text = String(decoding: try v.jcsBytes(), as: UTF8.self)
        let order = ["\\r", "1", "\u{80}", "ö", "\u{20AC}", "😀", "\u{FB33}"].map { "\"\($0)\":" }
        let positions = order.map { text.range(of: $0)!.lowerBound }
        #expect(positions == positions.sorted(), "\(text)")
    }

    @Test("stable under parse and re-encode (property)")
    func stable() async {
        await propertyCheck(count: 300, input: Gen.uint64()) { seed in
            var rng = CanonicalJSONTests.SplitMix(state: seed)
            let v = Self.inRange(CanonicalJSONTests.randomValue(&rng))
            let bytes = try v.jcsBytes()
            #expect(try JSONValue.parse(bytes).jcsBytes() == bytes)
        }
    }

    @Test("an integer beyond ±2^53 is refused with its path, never rounded")
    func bigIntegers() throws {
        #expect(try JSONValue.int(1 << 53).jcsBytes() == Array("9007199254740992".utf8))
        #expect(try JSONValue.int(-(1 << 53)).jcsBytes() == Array("-9007199254740992".utf8))
        // A double written by a JCS library reads back as an integer; it must write back the same.
        #expect(try JSONValue.double(9_007_199_254_740_994).jcsBytes() == Array("9007199254740994".utf8))
        #expect(try JSONValue.parse("9007199254740994").jcsBytes() == Array("9007199254740994".utf8))
        #expect(try JSONValue.parse("18446744073709552000").jcsBytes() == Array("18446744073709552000".utf8))
        let v: JSONValue = ["data": ["sizes": [1, .int((1 << 53) + 1)]]]
        #expect(throws: JSONValue.JCSError(path: "/data/sizes/1", message: "the integer 9007199254740993 is beyond ±2^53, which a JSON number cannot hold exactly; write it as a string")) {
            try v.jcsBytes()
        }
        #expect(throws: JSONValue.JCSError.self) { try JSONValue.double(.nan).jcsBytes() }
    }

    /// The random values with their integers brought within ±2^53 (the generator draws any Int64).
    static func inRange(_ v: JSONValue) -> JSONValue {
        switch v {
        case .int(let i): return .int(i % JSONValue.jcsIntegerLimit)
        case .array(let a): return .array(a.map(inRange))
        case .object(let o): return .object(o.mapValues(inRange))
        default: return v
        }
    }
}
