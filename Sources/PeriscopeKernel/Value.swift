import Rendering

// MARK: - Values

/// A value in the Periscope environment: what a variable holds and what a statement yields.
///
/// Every case carries a payload that knows its type name, a one-line summary and how to render
/// itself (`ValueContent`). Adding a model-side value (`.model`, `.prompt`, `.vector`,
/// `.dataset`) is one new case here plus one line in `content`.
public enum Value: Sendable {
    case string(String)
    case int(Int)
    case float(Double)
    /// Inclusive range `lower..upper`, as written.
    case range(Int, Int)
    case list([Value])
    /// A bare word with a meaning of its own: `all`, `last`, `same`.
    case symbol(String)
    /// A rendered result (table, heatmap, card, help page) with the data behind it.
    case result(RenderedResult)
    /// Anything else a verb produces; the payload renders itself.
    case object(any ValueContent)

    /// The payload's behaviour: the single switch over cases.
    public var content: any ValueContent {
        switch self {
        case .string(let s): return LiteralContent.string(s)
        case .int(let i): return LiteralContent.int(i)
        case .float(let d): return LiteralContent.float(d)
        case .range(let a, let b): return LiteralContent.range(a, b)
        case .list(let items): return ListContent(items: items)
        case .symbol(let word): return LiteralContent.symbol(word)
        case .result(let r): return r
        case .object(let o): return o
        }
    }

    /// The user-facing type name ("int", "string", "Table", "Model"…).
    public var typeName: String { content.typeName }
    /// A one-line description for inspection and error messages.
    public var summary: String { content.summary }
    /// The full display of the value.
    public func render() -> MimeBundle { content.render() }
}

/// What every value payload can do: name its type, summarise itself, render itself.
public protocol ValueContent: Sendable {
    /// The user-facing type name, e.g. "Table" or "Model".
    var typeName: String { get }
    /// One line, e.g. `Prompt "The Eiffel Tower" (6 tokens)`.
    var summary: String { get }
    /// The MIME bundle shown when the value is displayed.
    func render() -> MimeBundle
}

// MARK: - Literal payloads

/// Literals render as they would be written back in the language.
enum LiteralContent: ValueContent {
    case string(String)
    case int(Int)
    case float(Double)
    case range(Int, Int)
    case symbol(String)

    var typeName: String {
        switch self {
        case .string: return "string"
        case .int: return "int"
        case .float: return "float"
        case .range: return "range"
        case .symbol: return "word"
        }
    }

    /// The literal as source text: strings quoted and escaped.
    var literal: String {
        switch self {
        case .string(let s): return quoted(s)
        case .int(let i): return String(i)
        case .float(let d): return formatFloat(d)
        case .range(let a, let b): return "\(a)..\(b)"
        case .symbol(let w): return w
        }
    }

    /// Long strings are cut to keep summaries on one line.
    var summary: String {
        let text = literal
        guard text.count > 80 else { return "\(typeName) \(text)" }
        return "\(typeName) \(text.prefix(76))…\" (\(text.count - 2) characters)"
    }

    func render() -> MimeBundle { MimeBundle(plain: literal) }
}

/// A list renders as `[a, b, c]`.
struct ListContent: ValueContent {
    var items: [Value]
    var typeName: String { "list" }
    var summary: String { "list of \(items.count) item\(items.count == 1 ? "" : "s")" }
    func render() -> MimeBundle { MimeBundle(plain: Value.list(items).sourceText) }
}

// MARK: - Rendered results

/// A result that is already a MIME bundle (tables, heatmaps, cards, help pages), with its
/// kind for `typeName` and a one-line summary for inspection.
public struct RenderedResult: ValueContent {
    public var typeName: String
    public var summary: String
    public var bundle: MimeBundle
    /// The displays the bundle was combined from (the bundle itself when it is one), which
    /// `export` reads: a table's or heatmap's numbers, a chart's SVG.
    public var parts: [MimeBundle]
    public init(typeName: String, summary: String, bundle: MimeBundle, parts: [MimeBundle]? = nil) {
        self.typeName = typeName; self.summary = summary; self.bundle = bundle; self.parts = parts ?? [bundle]
    }
    public func render() -> MimeBundle { bundle }
}

// MARK: - Source text

extension Value {
    /// The value written as Periscope source, when it is a literal; otherwise its summary.
    public var sourceText: String {
        switch self {
        case .string, .int, .float, .range, .symbol:
            return (content as? LiteralContent)?.literal ?? summary
        case .list(let items):
            return "[" + items.map(\.sourceText).joined(separator: ", ") + "]"
        case .result, .object:
            return summary
        }
    }

    /// Text for `print`: strings unquoted, everything else as displayed in text/plain.
    public var printedText: String {
        if case .string(let s) = self { return s }
        return render().plainText
    }
}

/// Quotes a string the way the lexer reads it back.
func quoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// Shortest round-trip text of a float, always with a decimal point or exponent.
func formatFloat(_ d: Double) -> String {
    if !d.isFinite { return d.isNaN ? "nan" : (d > 0 ? "inf" : "-inf") }
    let text = "\(d)"
    return text
}
