// What the kernel needs to answer `is_complete`, `complete` and `inspect` requests: whether a
// cell is ready to run, and which word the cursor is on in which statement. Both read
// half-typed cells without failing.

// MARK: - Completeness

/// Whether a cell can run as it stands (Jupyter's `is_complete_request`).
public enum Completeness: Sendable, Equatable {
    /// It parses: run it.
    case complete
    /// A `[` or a string is still open, or the last line ends with `\`: the user is still
    /// typing. `indent` is what to put at the start of the next line.
    case incomplete(indent: String)
    /// It has an error that more lines cannot fix (an unexpected `]`, `1.2.3`, …).
    case invalid
}

/// The indentation suggested inside an open list or after a `\`.
let continuationIndent = "    "

/// Whether `code` is complete, incomplete (an open bracket or string, or a trailing `\`), or invalid.
public func completeness(of code: String) -> Completeness {
    let (tokens, danglingContinuation) = Lexer.tokenize(code)
    var parser = Parser(tokens: tokens)
    do {
        _ = try parser.parseCell()
        return danglingContinuation ? .incomplete(indent: continuationIndent) : .complete
    } catch {
        guard parser.failedAtEndOfInput else { return .invalid }
        // An open string gets no indent: spaces typed into it would become part of the text.
        let openString = tokens.contains {
            if case .invalid(_, reachedEndOfInput: true) = $0.kind { return true }
            return false
        }
        return .incomplete(indent: openString ? "" : continuationIndent)
    }
}

// MARK: - Word at cursor

/// The word under the cursor and the statement around it, for completion and inspection.
///
/// - `word`: the whole name or number touching `cursorOffset` (letters, digits, `_` and single
///   dots, so `blocks.3.hook_` is one word); empty when the cursor touches none, or is inside a
///   string or a comment. The part being typed is the first `cursorOffset - range.lowerBound`
///   scalars of `word`.
/// - `range`: the word's span in Unicode scalar offsets (empty, at the cursor, for no word).
/// - `statementHead`: the verb of the statement the cursor is in (after any `name =`), or nil
///   when the cursor is on (or before) the head itself, or the statement starts with a literal.
///   A nil head means "complete a verb or a variable here".
/// - `previousWords`: the arguments between the head and the word, one source text each
///   (`[1, 2]`, `0..3` and `"text"` are one word apiece), so the kernel can see the keyword just
///   before the cursor and the keywords already given.
public func wordAtCursor(in code: String, cursorOffset: Int)
    -> (word: String, range: Range<Int>, statementHead: String?, previousWords: [String])
{
    let scalars = Array(code.unicodeScalars)
    let cursor = min(max(cursorOffset, 0), scalars.count)
    let tokens = Lexer.tokenize(code).tokens
    let statement = statementTokens(tokens, containing: cursor)

    // Inside a string (or an unreadable token such as an open string), or after a `#`: no word.
    let insideLiteral = statement.contains { token in
        guard token.text.hasPrefix("\"") || token.text.hasPrefix("'") else { return false }
        // A closed string holds the cursor strictly between its quotes; an open one up to its end.
        return token.start.offset < cursor && (cursor < token.end.offset || (cursor == token.end.offset && token.kind.isOpenString))
    }
    let lastBefore = statement.last { $0.end.offset <= cursor }
    let lineStart = scalars[..<cursor].lastIndex(of: "\n").map { $0 + 1 } ?? 0
    let scanFrom = max(lastBefore?.end.offset ?? lineStart, lineStart)
    let insideComment = scalars[scanFrom..<cursor].contains("#")
    if insideLiteral || insideComment {
        return ("", cursor..<cursor, nil, [])
    }

    let wordRange = wordSpan(in: scalars, around: cursor)
    let word = string(scalars[wordRange])

    // Find the head: skip `name =` and a leading `?`.
    var rest = statement[...]
    if rest.count >= 2, case .identifier = rest[rest.startIndex].kind,
       rest[rest.startIndex + 1].kind == .equals {
        rest = rest.dropFirst(2)
    }
    if let first = rest.first, first.kind == .question { rest = rest.dropFirst() }
    guard let headToken = rest.first, case .identifier(let head) = headToken.kind,
          headToken.start.offset < wordRange.lowerBound
    else {
        return (word, wordRange, nil, [])
    }

    // Group the arguments before the word into source-text words.
    var spans: [Range<Int>] = []
    var depth = 0
    var joinNext = false
    for token in rest.dropFirst() where token.end.offset <= wordRange.lowerBound && token.kind != .newline {
        let span = token.start.offset..<token.end.offset
        if depth > 0 || joinNext || token.kind == .dotDot, let last = spans.last {
            spans[spans.count - 1] = last.lowerBound..<span.upperBound
            joinNext = token.kind == .dotDot
        } else {
            spans.append(span)
            joinNext = false
        }
        if token.kind == .leftBracket { depth += 1 }
        if token.kind == .rightBracket { depth = max(depth - 1, 0) }
    }
    // A list still open at the cursor is not a finished argument.
    if depth > 0 { spans.removeLast() }
    return (word, wordRange, head, spans.map { string(scalars[$0]) })
}

// MARK: - Helpers

extension Token.Kind {
    fileprivate var isOpenString: Bool {
        if case .invalid(_, reachedEndOfInput: true) = self { return true }
        return false
    }
}

/// The tokens of the logical statement (newlines inside brackets and `\` continuations
/// included) that contains `cursor`, without the newline that ends it.
private func statementTokens(_ tokens: [Token], containing cursor: Int) -> [Token] {
    var current: [Token] = []
    var depth = 0
    for token in tokens {
        switch token.kind {
        case .endOfInput:
            return current
        case .newline where depth == 0:
            if cursor <= token.start.offset { return current }
            current = []
        case .leftBracket:
            depth += 1
            current.append(token)
        case .rightBracket:
            depth = max(depth - 1, 0)
            current.append(token)
        default:
            current.append(token)
        }
    }
    return current
}

/// Letters, digits, `_`, `-` at the start of a number, and single dots (not `..`) around `cursor`.
private func wordSpan(in scalars: [Unicode.Scalar], around cursor: Int) -> Range<Int> {
    func isWord(_ i: Int) -> Bool {
        guard i >= 0, i < scalars.count else { return false }
        let c = scalars[i]
        if isIdentifierContinue(c) { return true }
        if c == "." { return !(i > 0 && scalars[i - 1] == ".") && !(i + 1 < scalars.count && scalars[i + 1] == ".") }
        return false
    }
    var lower = cursor
    while isWord(lower - 1) { lower -= 1 }
    if lower > 0, scalars[lower - 1] == "-", lower < scalars.count, isDigit(scalars[lower]) { lower -= 1 }
    var upper = cursor
    while isWord(upper) { upper += 1 }
    return lower..<upper
}

private func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
    var view = String.UnicodeScalarView()
    view.append(contentsOf: scalars)
    return String(view)
}
