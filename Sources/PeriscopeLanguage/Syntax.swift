/// The syntax tree of a Periscope cell (docs/command-language.md). The parser knows no verbs: a command is a
/// head word followed by a flat list of expressions, and PeriscopeKernel binds them to the
/// verb's keywords using the command table (so `layers`, `chat`, `last` are just identifiers here).

/// A position in the cell: 1-based line and column, and the 0-based offset, all counted in
/// Unicode scalars (the unit Jupyter's cursor_pos uses).
public struct SourceLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var offset: Int
    public init(line: Int, column: Int, offset: Int) { self.line = line; self.column = column; self.offset = offset }
    public var description: String { "\(line):\(column)" }
}

/// A half-open span [start, end) of the cell.
public struct SourceRange: Sendable, Equatable, Hashable {
    public var start: SourceLocation
    public var end: SourceLocation
    public init(start: SourceLocation, end: SourceLocation) { self.start = start; self.end = end }
}

public struct Expr: Sendable, Equatable {
    public indirect enum Kind: Sendable, Equatable {
        case string(String)
        case int(Int)
        case float(Double)
        /// Inclusive: `0..29`.
        case range(Int, Int)
        case list([Expr])
        /// A bare word: a variable name, a keyword, `all`, `last`, `same`, `chat`, …
        case identifier(String)
    }
    public var kind: Kind
    public var range: SourceRange
    public init(_ kind: Kind, range: SourceRange) { self.kind = kind; self.range = range }
}

public struct Statement: Sendable, Equatable {
    public enum Body: Sendable, Equatable {
        /// `verb arg arg …` — also a lone identifier (`models`, or a variable name `x`);
        /// the interpreter decides which by looking the head up in the command table.
        case command(head: String, headRange: SourceRange, arguments: [Expr])
        /// A statement that starts with a literal: `"text"`, `3`, `[a, b]`, `0..4`.
        case value(Expr)
        /// `?verb` or `verb?`.
        case help(topic: String, range: SourceRange)
    }
    /// `name =` in front of the body, if any.
    public var assignment: (name: String, range: SourceRange)?
    public var body: Body
    public var range: SourceRange
    public init(assignment: (name: String, range: SourceRange)?, body: Body, range: SourceRange) {
        self.assignment = assignment; self.body = body; self.range = range
    }
    public static func == (a: Statement, b: Statement) -> Bool {
        a.assignment?.name == b.assignment?.name && a.assignment?.range == b.assignment?.range
            && a.body == b.body && a.range == b.range
    }
}

/// A parse error: where, what was found, what was expected, and a suggestion if any.
public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    public init(location: SourceLocation, message: String) { self.location = location; self.message = message }
    public var description: String { "line \(location.line), column \(location.column): \(message)" }
}
