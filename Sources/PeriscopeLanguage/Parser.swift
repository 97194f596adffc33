// The parser: turns a cell into statements (`protocol/grammar.ebnf`, docs/command-language.md).
//
//     statement := [name "="] (command | value | help)
//     command   := name {value}
//     help      := "?" name | name "?"
//     value     := string | int | float | range | list | name
//
// It knows no verbs: `lens p layers 0..3` is the head `lens` with three arguments, and the
// kernel binds them to keywords using its command table.

/// Parses a whole cell: one statement per logical line; blank and comment-only lines give nothing.
public func parse(_ source: String) -> Result<[Statement], ParseError> {
    Result { () throws(ParseError) in try Parser.parse(source) }
}

/// A recursive-descent parser over the lexer's tokens.
public struct Parser {
    private let tokens: [Token]
    private var position = 0
    /// Set when parsing failed only because the cell ended too early (an open `[` or string),
    /// which `completeness(of:)` reports as incomplete rather than invalid.
    private(set) var failedAtEndOfInput = false

    init(tokens: [Token]) { self.tokens = tokens }

    /// Parses a whole cell, throwing the first error in source order.
    public static func parse(_ source: String) throws(ParseError) -> [Statement] {
        var parser = Parser(tokens: Lexer.tokenize(source).tokens)
        return try parser.parseCell()
    }

    // MARK: - Token stream

    private var current: Token { tokens[min(position, tokens.count - 1)] }

    private func lookahead(_ n: Int) -> Token { tokens[min(position + n, tokens.count - 1)] }

    @discardableResult
    private mutating func advance() -> Token {
        let token = current
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    /// Throws the lexer's error if the current token is one it could not read.
    private mutating func checkReadable() throws(ParseError) {
        if case .invalid(let error, let atEnd) = current.kind {
            failedAtEndOfInput = atEnd
            throw error
        }
    }

    private func error(_ message: String, at location: SourceLocation? = nil) -> ParseError {
        ParseError(location: location ?? current.start, message: message)
    }

    // MARK: - Statements

    mutating func parseCell() throws(ParseError) -> [Statement] {
        var statements: [Statement] = []
        while true {
            try checkReadable()
            switch current.kind {
            case .endOfInput:
                return statements
            case .newline:
                advance()
            default:
                statements.append(try parseStatement())
            }
        }
    }

    private mutating func parseStatement() throws(ParseError) -> Statement {
        let first = current
        var assignment: (name: String, range: SourceRange)?
        if case .identifier(let name) = first.kind, lookahead(1).kind == .equals {
            assignment = (name, first.range)
            advance()
            let equals = advance()
            try checkReadable()
            if current.kind.endsStatement {
                throw error("expected a value or a command after `\(name) =`, found \(current.kind.phrase)",
                            at: equals.end)
            }
            if current.kind == .equals {
                throw error("expected a value or a command after `\(name) =`, found another `=`")
            }
            if current.kind == .question {
                throw error("help (`?`) gives no value to assign: write `?verb` on a line of its own")
            }
        }

        let body: Statement.Body
        var last: Token
        switch current.kind {
        case .question:
            advance()
            if current.kind == .question { advance() }  // `??lens`, as in IPython
            try checkReadable()
            guard case .identifier(let topic) = current.kind else {
                throw error("expected a verb name after `?`, as in ?lens, found \(current.kind.phrase)")
            }
            last = advance()
            body = .help(topic: topic, range: last.range)
        case .identifier(let head):
            let headToken = advance()
            last = headToken
            if current.kind == .question {
                if assignment != nil {
                    throw error("help (`?`) gives no value to assign: write `\(head)?` on a line of its own")
                }
                last = advance()
                if current.kind == .question { last = advance() }  // `lens??`
                body = .help(topic: head, range: headToken.range)
            } else {
                var arguments: [Expr] = []
                while true {
                    try checkReadable()
                    if current.kind.endsStatement { break }
                    if current.kind == .equals {
                        throw misplacedEquals(statementStart: first, hasAssignment: assignment != nil)
                    }
                    if current.kind == .question {
                        throw error("`?` asks for help and goes right before or after a verb name, as in ?\(head) or \(head)?")
                    }
                    let argument = try parseValue()
                    arguments.append(argument)
                    last = previous
                }
                body = .command(head: head, headRange: headToken.range, arguments: arguments)
            }
        case .equals:
            throw error("expected a name before `=`, as in x = …")
        default:
            let value = try parseValue()
            last = previous
            body = .value(value)
            try checkReadable()
            if current.kind == .equals {
                if assignment != nil { throw misplacedEquals(statementStart: first, hasAssignment: true) }
                throw error("cannot assign to \(describe(value)): the left side of `=` must be a name, as in x = …",
                            at: value.range.start)
            }
        }

        try checkReadable()
        guard current.kind.endsStatement else {
            switch body {
            case .help(let topic, _):
                throw error("expected the end of the line after the help request `?\(topic)`, found \(current.kind.phrase)")
            default:
                throw error("found \(current.kind.phrase) after a value, expected the end of the line: a statement that starts with a value takes no arguments; put each statement on its own line")
            }
        }
        let range = SourceRange(start: first.start, end: last.end)
        return Statement(assignment: assignment, body: body, range: range)
    }

    private var previous: Token { tokens[max(position - 1, 0)] }

    private func misplacedEquals(statementStart: Token, hasAssignment: Bool) -> ParseError {
        if hasAssignment {
            return error("unexpected `=`: a statement assigns to at most one name")
        }
        return error("unexpected `=`: only a single name may stand before `=`, as in x = \(statementStart.text) …")
    }

    // MARK: - Values

    /// value := string | int | float | range | list | name
    private mutating func parseValue() throws(ParseError) -> Expr {
        try checkReadable()
        let token = current
        switch token.kind {
        case .string(let s):
            advance()
            return Expr(.string(s), range: token.range)
        case .int(let low):
            advance()
            guard current.kind == .dotDot else { return Expr(.int(low), range: token.range) }
            let dots = advance()
            try checkReadable()
            guard case .int(let high) = current.kind else {
                if case .float = current.kind {
                    throw error("a range's ends must be integers, found \(current.text) after `..`")
                }
                throw error("expected an integer after `..` to end the range, as in \(low)..\(max(low, 0) + 3), found \(current.kind.phrase)",
                            at: current.kind.endsStatement ? dots.end : current.start)
            }
            let end = advance()
            try rejectChainedRange()
            return Expr(.range(low, high), range: SourceRange(start: token.start, end: end.end))
        case .float(let x):
            advance()
            if current.kind == .dotDot {
                throw error("a range's ends must be integers, found \(token.text) before `..`", at: token.start)
            }
            return Expr(.float(x), range: token.range)
        case .identifier(let name):
            advance()
            if current.kind == .dotDot {
                throw error("a range's ends must be integer literals, as in 0..29, found the name `\(name)` before `..`",
                            at: token.start)
            }
            return Expr(.identifier(name), range: token.range)
        case .leftBracket:
            return try parseList()
        case .rightBracket:
            throw error("unexpected `]`: there is no open `[` to close")
        case .comma:
            throw error("unexpected `,` outside a list: separate arguments with spaces; commas go only inside [ ]")
        case .dotDot:
            throw error("unexpected `..`: a range needs an integer on each side, as in 0..29")
        case .equals:
            throw error("expected a value, found `=`")
        case .question:
            throw error("expected a value, found `?`")
        case .newline, .endOfInput:
            throw error("expected a value, found \(token.kind.phrase)")
        case .invalid(let e, let atEnd):
            failedAtEndOfInput = atEnd
            throw e
        }
    }

    private mutating func rejectChainedRange() throws(ParseError) {
        if current.kind == .dotDot {
            throw error("unexpected `..`: a range has exactly two ends, as in 0..29")
        }
    }

    /// list := "[" [value {"," value} [","]] "]", newlines inside ignored.
    private mutating func parseList() throws(ParseError) -> Expr {
        let open = advance()
        var elements: [Expr] = []
        try skipNewlines()
        while current.kind != .rightBracket {
            if current.kind == .endOfInput { throw unclosed(open) }
            if current.kind == .comma {
                throw error(elements.isEmpty
                    ? "expected a value after `[`, found `,`"
                    : "expected a value between two commas in the list, found `,`")
            }
            elements.append(try parseValue())
            try skipNewlines()
            switch current.kind {
            case .comma:
                advance()
                try skipNewlines()
            case .rightBracket:
                break
            case .endOfInput:
                throw unclosed(open)
            default:
                var message = "expected `,` or `]` after a list element, found \(current.kind.phrase)"
                if current.start.line > open.start.line {
                    message += " (the `[` at \(open.start) is still open)"
                }
                throw error(message)
            }
        }
        let close = advance()
        return Expr(.list(elements), range: SourceRange(start: open.start, end: close.end))
    }

    private mutating func skipNewlines() throws(ParseError) {
        while current.kind == .newline { advance() }
        try checkReadable()
    }

    private mutating func unclosed(_ open: Token) -> ParseError {
        failedAtEndOfInput = true
        return error("unclosed `[`: the list that starts here has no closing `]`", at: open.start)
    }

    private func describe(_ value: Expr) -> String {
        switch value.kind {
        case .string: return "a string"
        case .int, .float: return "a number"
        case .range: return "a range"
        case .list: return "a list"
        case .identifier(let n): return "`\(n)`"
        }
    }
}
