// Parsing a whole document for an editor: every statement that parses and every syntax error,
// not just the first. A cell that runs stops at its first error; a document being typed (a
// notebook's cells joined, a .scope file) still has good statements after a bad one, and the
// editor wants their diagnostics too.

/// The statements of `source` that parse, and one error per statement that does not, all with
/// positions in `source`.
///
/// After an error the parser resumes at the line that follows the failing statement (found by
/// the tokens: the first newline outside brackets at or after the error). A statement that never
/// ends (an open `[` or string running to the end) resumes after the next blank line instead,
/// since blank lines separate a notebook's cells, and gives up when there is none.
public func parseDocument(_ source: String) -> (statements: [Statement], errors: [ParseError]) {
    let scalars = Array(source.unicodeScalars)
    var statements: [Statement] = []
    var errors: [ParseError] = []
    // Where the part still to parse starts, in `source`: offset and 1-based line.
    var base = SourceLocation(line: 1, column: 1, offset: 0)

    while base.offset <= scalars.count {
        let chunk = text(scalars[base.offset...])
        let tokens = Lexer.tokenize(chunk).tokens
        var parser = Parser(tokens: tokens)
        let failure: ParseError
        switch Result(catching: { () throws(ParseError) in try parser.parseCell() }) {
        case .success(let good):
            statements += good.map { $0.shifted(by: base) }
            return (statements, errors)
        case .failure(let error):
            failure = error
        }
        errors.append(failure.shifted(by: base))

        // The statements before the failing one parsed; the parser threw them away, so parse that prefix again.
        let statementStart = startOfStatement(tokens, containing: failure.location.offset)
        if statementStart > 0 {
            let prefix = text(scalars[base.offset..<(base.offset + statementStart)])
            if let good = try? Parser.parse(prefix) {
                statements += good.map { $0.shifted(by: base) }
            }
        }

        guard let resume = resumePoint(tokens, after: failure.location, in: chunk) else { break }
        base = SourceLocation(line: base.line + resume.line - 1, column: 1, offset: base.offset + resume.offset)
    }
    return (statements, errors)
}

/// The offset (in the chunk) where the statement holding `offset` starts: just after the last
/// newline outside brackets before it.
private func startOfStatement(_ tokens: [Token], containing offset: Int) -> Int {
    var start = 0
    var depth = 0
    for token in tokens {
        if token.start.offset >= offset { break }
        switch token.kind {
        case .leftBracket: depth += 1
        case .rightBracket: depth = max(depth - 1, 0)
        case .newline where depth == 0: start = token.end.offset
        default: break
        }
    }
    return start
}

/// Where parsing resumes after an error at `location`: the start of the line after the failing
/// statement, or after the next blank line when the statement runs to the end; nil when nothing
/// is left to parse.
private func resumePoint(_ tokens: [Token], after location: SourceLocation, in chunk: String) -> SourceLocation? {
    let from = startOfStatement(tokens, containing: location.offset)
    var depth = 0
    for token in tokens where token.start.offset >= from {
        switch token.kind {
        case .leftBracket: depth += 1
        case .rightBracket: depth = max(depth - 1, 0)
        case .newline where depth == 0 && token.start.offset >= location.offset:
            return SourceLocation(line: token.start.line + 1, column: 1, offset: token.end.offset)
        case .invalid(_, reachedEndOfInput: true):
            // An open string swallows the rest; nothing after it is a token.
            return lineAfterBlank(in: chunk, from: location.line)
        default: break
        }
    }
    return lineAfterBlank(in: chunk, from: location.line)
}

/// The start of the first line after a blank line that comes after line `line` (1-based).
private func lineAfterBlank(in chunk: String, from line: Int) -> SourceLocation? {
    var offset = 0
    var number = 1
    var sawBlank = false
    for lineText in chunk.split(separator: "\n", omittingEmptySubsequences: false) {
        let length = lineText.unicodeScalars.count
        if number > line {
            if sawBlank { return SourceLocation(line: number, column: 1, offset: offset) }
            if lineText.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { sawBlank = true }
        }
        offset += length + 1
        number += 1
    }
    return nil
}

// MARK: - Ranges of syntax errors

/// The span an editor underlines for a syntax error: the token the error points at (up to the
/// end of its line), or the character before the error when it points at the end of a line.
public func syntaxErrorRange(_ error: ParseError, in source: String) -> SourceRange {
    let scalars = Array(source.unicodeScalars)
    let start = error.location
    let offset = min(max(start.offset, 0), scalars.count)
    let lineEnd = scalars[offset...].firstIndex(of: "\n") ?? scalars.count
    var end = offset
    if offset < lineEnd {
        // Lex from the error on: the first token there is what the message is about.
        let rest = text(scalars[offset..<lineEnd])
        let first = Lexer.tokenize(rest).tokens.first
        let length = first.map { $0.end.offset } ?? 0
        end = offset + max(length, 1)
        if let first, first.start.offset > 0 { end = offset + 1 }
        return SourceRange(start: start, end: SourceLocation(line: start.line, column: start.column + end - offset, offset: end))
    }
    // At the end of a line: underline the character before, if the line has one.
    guard start.column > 1, offset > 0 else { return SourceRange(start: start, end: start) }
    let before = SourceLocation(line: start.line, column: start.column - 1, offset: offset - 1)
    return SourceRange(start: before, end: start)
}

// MARK: - Shifting positions

extension SourceLocation {
    /// This location, read in a chunk that starts at `base`, as a location in the whole text.
    func shifted(by base: SourceLocation) -> SourceLocation {
        SourceLocation(line: line + base.line - 1, column: line == 1 ? column + base.column - 1 : column,
                       offset: offset + base.offset)
    }
}

extension SourceRange {
    func shifted(by base: SourceLocation) -> SourceRange {
        SourceRange(start: start.shifted(by: base), end: end.shifted(by: base))
    }
}

extension Expr {
    func shifted(by base: SourceLocation) -> Expr {
        let kind: Kind
        if case .list(let items) = self.kind {
            kind = .list(items.map { $0.shifted(by: base) })
        } else {
            kind = self.kind
        }
        return Expr(kind, range: range.shifted(by: base))
    }
}

extension Statement {
    func shifted(by base: SourceLocation) -> Statement {
        let body: Body
        switch self.body {
        case .command(let head, let headRange, let arguments):
            body = .command(head: head, headRange: headRange.shifted(by: base),
                            arguments: arguments.map { $0.shifted(by: base) })
        case .value(let expr):
            body = .value(expr.shifted(by: base))
        case .help(let topic, let range):
            body = .help(topic: topic, range: range.shifted(by: base))
        }
        return Statement(assignment: assignment.map { ($0.name, $0.range.shifted(by: base)) }, body: body,
                         range: range.shifted(by: base))
    }
}

extension ParseError {
    func shifted(by base: SourceLocation) -> ParseError {
        ParseError(location: location.shifted(by: base), message: message)
    }
}

private func text(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
    var view = String.UnicodeScalarView()
    view.append(contentsOf: scalars)
    return String(view)
}
