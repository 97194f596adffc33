// The tokens of the command language (`protocol/grammar.ebnf`), as the lexer hands them to the parser and
// to the editor helpers.

/// One lexical token with its span in the cell.
struct Token: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case string(String)
        case int(Int)
        case float(Double)
        case identifier(String)
        /// `..`, between the two ends of a range.
        case dotDot
        case leftBracket
        case rightBracket
        case comma
        case equals
        case question
        /// The end of a physical line that is not continued with `\`. The parser skips these
        /// while a bracket is open.
        case newline
        case endOfInput
        /// Something the lexer could not read. It carries the error so that the parser reports
        /// it in source order, while the editor helpers can step over it.
        case invalid(ParseError, reachedEndOfInput: Bool)
    }

    var kind: Kind
    var range: SourceRange
    /// The exact source text of the token.
    var text: String

    var start: SourceLocation { range.start }
    var end: SourceLocation { range.end }
}

extension Token.Kind {
    /// How the token reads in an error message: "the name `foo`", "`]`", "end of line".
    var phrase: String {
        switch self {
        case .string(let s): return "the string \(quoted(s))"
        case .int(let n): return "the number \(n)"
        case .float(let x): return "the number \(x)"
        case .identifier(let n): return "the name `\(n)`"
        case .dotDot: return "`..`"
        case .leftBracket: return "`[`"
        case .rightBracket: return "`]`"
        case .comma: return "`,`"
        case .equals: return "`=`"
        case .question: return "`?`"
        case .newline: return "the end of the line"
        case .endOfInput: return "the end of the cell"
        case .invalid(let e, _): return e.message
        }
    }

    /// True for the two tokens that end a statement.
    var endsStatement: Bool {
        switch self {
        case .newline, .endOfInput: return true
        default: return false
        }
    }
}

/// A string shown in a message, double-quoted with the language's own escapes, shortened when long.
func quoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars.prefix(40) {
        switch scalar {
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        default: out.unicodeScalars.append(scalar)
        }
    }
    if s.unicodeScalars.count > 40 { out += "…" }
    return out + "\""
}
