import Foundation
import JSONText

// MARK: - Errors

/// Why a byte sequence is not valid JSON.
public enum JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended while a value was still open.
    case unexpectedEnd
    /// A byte that cannot start or continue a value at this offset.
    case unexpectedByte(UInt8, offset: Int)
    /// A string contains an invalid escape or a control character.
    case badString(offset: Int)
    /// A number is malformed.
    case badNumber(offset: Int)
    /// Non-whitespace text follows the top-level value.
    case trailingData(offset: Int)
    /// The bytes are not valid UTF-8.
    case invalidUTF8
    /// Arrays and objects are nested too deeply to be a real message.
    case tooDeep

    public var description: String {
        switch self {
        case .unexpectedEnd: return "The JSON text ends before its value is complete; check that the message was not truncated."
        case .unexpectedByte(let b, let offset):
            return "The JSON text has an unexpected character (byte 0x\(String(b, radix: 16))) at offset \(offset)."
        case .badString(let offset): return "The JSON string at offset \(offset) has an invalid escape or an unescaped control character."
        case .badNumber(let offset): return "The JSON number at offset \(offset) is malformed."
        case .trailingData(let offset): return "The JSON text has extra data after its value, at offset \(offset)."
        case .invalidUTF8: return "The JSON text is not valid UTF-8."
        case .tooDeep: return "The JSON text nests arrays or objects more than 512 levels deep."
        }
    }
}

// MARK: - Serialising

extension JSONValue {
    /// Compact JSON text (no spaces; object keys sorted so output is deterministic).
    /// Integers stay integers, non-finite doubles become `null` (JSON has no NaN).
    public func serialized() -> String {
        var out = ""
        out.reserveCapacity(64)
        write(to: &out)
        return out
    }

    /// The compact JSON text as UTF-8 bytes.
    public func serializedData() -> Data { Data(serialized().utf8) }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isFinite {
                // Whole doubles keep a ".0" so they read back as doubles.
                out += "\(d)"
            } else {
                out += "null"
            }
        case .string(let s): appendJSONString(s, to: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, entry) in o.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out += "," }
                appendJSONString(entry.key, to: &out)
                out += ":"
                entry.value.write(to: &out)
            }
            out += "}"
        }
    }
}

// MARK: - Parsing

extension JSONValue {
    /// Parses JSON text. Numbers without a fraction or exponent that fit in `Int` become `.int`.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Data(text.utf8))
    }

    /// Parses UTF-8 JSON bytes. Numbers without a fraction or exponent that fit in `Int` become `.int`.
    public static func parse(_ data: Data) throws(JSONParseError) -> JSONValue {
        let bytes = [UInt8](data)
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.pos != bytes.count { throw .trailingData(offset: parser.pos) }
        return value
    }
}

/// A small recursive-descent JSON parser over UTF-8 bytes.
private struct JSONParser {
    let bytes: [UInt8]
    var pos = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipWhitespace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 {
            pos += 1
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < 512 else { throw .tooDeep }
        guard pos < bytes.count else { throw .unexpectedEnd }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-") where pos + 1 < bytes.count && bytes[pos + 1] == UInt8(ascii: "I"):
            pos += 1
            try expectLiteral("Infinity")
            return .double(-.infinity)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        // Python's json module writes these for non-finite floats; accept them as doubles.
        case UInt8(ascii: "N"): try expectLiteral("NaN"); return .double(.nan)
        case UInt8(ascii: "I"): try expectLiteral("Infinity"); return .double(.infinity)
        default: throw .unexpectedByte(bytes[pos], offset: pos)
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let lit = literal.withUTF8Buffer { Array($0) }
        guard pos + lit.count <= bytes.count else { throw .unexpectedEnd }
        for (i, b) in lit.enumerated() where bytes[pos + i] != b {
            throw .unexpectedByte(bytes[pos + i], offset: pos + i)
        }
        pos += lit.count
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        pos += 1
        var object: [String: JSONValue] = [:]
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(object) }
        while true {
            skipWhitespace()
            guard pos < bytes.count else { throw .unexpectedEnd }
            guard bytes[pos] == UInt8(ascii: "\"") else { throw .unexpectedByte(bytes[pos], offset: pos) }
            let key = try parseString()
            skipWhitespace()
            guard pos < bytes.count else { throw .unexpectedEnd }
            guard bytes[pos] == UInt8(ascii: ":") else { throw .unexpectedByte(bytes[pos], offset: pos) }
            pos += 1
            skipWhitespace()
            object[key] = try parseValue(depth: depth + 1)
            skipWhitespace()
            guard pos < bytes.count else { throw .unexpectedEnd }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(object) }
            throw .unexpectedByte(bytes[pos], offset: pos)
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        pos += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(array) }
        while true {
            skipWhitespace()
            array.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard pos < bytes.count else { throw .unexpectedEnd }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(array) }
            throw .unexpectedByte(bytes[pos], offset: pos)
        }
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw .unexpectedEnd }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw .badString(offset: pos)
            }
            v = v * 16 + d
            pos += 1
        }
        return v
    }

    mutating func parseString() throws(JSONParseError) -> String {
        pos += 1  // opening quote
        var buffer: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw .unexpectedEnd }
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") { pos += 1; break }
            if c < 0x20 { throw .badString(offset: pos) }
            if c != UInt8(ascii: "\\") { buffer.append(c); pos += 1; continue }
            pos += 1
            guard pos < bytes.count else { throw .unexpectedEnd }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): buffer.append(0x22)
            case UInt8(ascii: "\\"): buffer.append(0x5C)
            case UInt8(ascii: "/"): buffer.append(0x2F)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800...0xDBFF).contains(code) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        let save = pos
                        pos += 2
                        let low = try parseHex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            pos = save
                            code = 0xFFFD
                        }
                    } else {
                        code = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(code) {
                    code = 0xFFFD
                }
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                buffer.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw .badString(offset: pos - 1)
            }
        }
        guard let s = String(validating: buffer, as: UTF8.self) else { throw .invalidUTF8 }
        return s
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = pos
        var isInteger = true
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        guard pos < bytes.count, isDigit(bytes[pos]) else { throw .badNumber(offset: start) }
        while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw .badNumber(offset: start) }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw .badNumber(offset: start) }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw .badNumber(offset: start) }
        return .double(d)
    }
}
