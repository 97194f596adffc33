import Foundation
import JSONText

// MARK: - JSON value for the vnd payload

/// A JSON value written by Rendering for `application/vnd.periscope.v1+json`. Objects keep
/// their key order so that snapshots are stable and payloads read naturally (kind first).
public indirect enum JSONOut: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([JSONOut])
    case object([(String, JSONOut)])

    public static func == (lhs: JSONOut, rhs: JSONOut) -> Bool { lhs.serialized() == rhs.serialized() }

    /// A number, or `null` when not finite (JSON has no NaN or infinity).
    public static func num(_ value: Double?) -> JSONOut {
        guard let value, value.isFinite else { return .null }
        return .number(value)
    }

    /// An array of numbers; non-finite entries become `null`.
    public static func nums(_ values: [Double]) -> JSONOut { .array(values.map { .num($0) }) }

    /// A matrix of numbers; non-finite entries become `null`.
    public static func matrix(_ values: [[Double]]) -> JSONOut { .array(values.map { nums($0) }) }

    /// An array of strings.
    public static func strings(_ values: [String]) -> JSONOut { .array(values.map { .string($0) }) }

    /// Compact JSON text (no insignificant whitespace).
    public func serialized() -> String {
        var out = ""
        JSONWriter.write(self, into: &out)
        return out
    }
}

// MARK: - Writer

/// A tiny JSON writer: correct string escaping, numbers with up to 7 significant digits
/// (float32 precision), non-finite numbers as `null`.
public enum JSONWriter {
    /// Serializes `value` compactly.
    public static func string(_ value: JSONOut) -> String { value.serialized() }

    static func write(_ value: JSONOut, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let d): out += formatNumber(d)
        case .string(let s): appendJSONString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, into: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (i, (key, item)) in pairs.enumerated() {
                if i > 0 { out += "," }
                appendJSONString(key, to: &out)
                out += ":"
                write(item, into: &out)
            }
            out += "}"
        }
    }

    /// A JSON number with at most 7 significant digits; `null` when not finite.
    public static func formatNumber(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        // %.7g never produces a form JSON rejects except a leading "." — C always writes "0.".
        var text = String(format: "%.7g", d)
        if text.contains("e") {
            // "1e-05" is valid JSON; drop a "+" sign in the exponent for compactness.
            text = text.replacingOccurrences(of: "e+", with: "e")
        }
        return text
    }
}

// MARK: - Building another JSON value

/// A JSON value type a payload can be built into, so the payload reaches another representation
/// (the Jupyter protocol's) as a value rather than as text to parse again.
public protocol JSONBuilder {
    static func makeNull() -> Self
    static func makeBool(_ value: Bool) -> Self
    static func makeInt(_ value: Int) -> Self
    static func makeNumber(_ value: Double) -> Self
    static func makeString(_ value: String) -> Self
    static func makeArray(_ items: [Self]) -> Self
    static func makeObject(_ pairs: [(String, Self)]) -> Self
}

extension JSONOut {
    /// This value as `B`. Numbers carry the 7 significant digits the text form writes; non-finite
    /// numbers become null, as in the text.
    public func build<B: JSONBuilder>(_ type: B.Type) -> B {
        switch self {
        case .null: return B.makeNull()
        case .bool(let b): return B.makeBool(b)
        case .int(let i): return B.makeInt(i)
        case .number(let d):
            guard d.isFinite else { return B.makeNull() }
            if d == d.rounded(), abs(d) < 1e15 { return B.makeInt(Int(d)) }
            return B.makeNumber(Double(JSONWriter.formatNumber(d)) ?? d)
        case .string(let s): return B.makeString(s)
        case .array(let items): return B.makeArray(items.map { $0.build(type) })
        case .object(let pairs): return B.makeObject(pairs.map { ($0.0, $0.1.build(type)) })
        }
    }
}
