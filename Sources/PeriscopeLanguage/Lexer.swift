/// The lexer: turns a cell into tokens, counting positions in Unicode scalars (the unit of
/// Jupyter's cursor_pos; `protocol/grammar.ebnf` section 3).
///
/// It never stops at a mistake. Something it cannot read becomes an `.invalid` token carrying
/// the error, so the parser reports errors in source order and the editor helpers
/// (`completeness`, `wordAtCursor`) can still read the rest of a half-typed cell.
struct Lexer {
    private let scalars: [Unicode.Scalar]
    /// The cell's UTF-8 bytes, and where each scalar starts in them (plus the end): a token's text
    /// is one slice of bytes, not a string built scalar by scalar.
    private let utf8: [UInt8]
    private let utf8Offsets: [Int]
    private var index = 0
    private var line = 1
    private var column = 1
    /// True once the lexer has met a `\` whose continuation line has not been written yet
    /// (the `\` is followed only by blanks, or by one newline and then the end of the cell).
    private(set) var endsWithDanglingContinuation = false

    init(_ source: String) {
        scalars = Array(source.unicodeScalars)
        utf8 = Array(source.utf8)
        var offsets: [Int] = []
        offsets.reserveCapacity(scalars.count + 1)
        var offset = 0
        for scalar in scalars {
            offsets.append(offset)
            offset += UTF8.width(scalar)
        }
        offsets.append(offset)
        utf8Offsets = offsets
    }

    /// All tokens of `source`, ending with `.endOfInput`.
    static func tokenize(_ source: String) -> (tokens: [Token], danglingContinuation: Bool) {
        var lexer = Lexer(source)
        var tokens: [Token] = []
        while true {
            let token = lexer.next()
            tokens.append(token)
            if token.kind == .endOfInput { break }
        }
        return (tokens, lexer.endsWithDanglingContinuation)
    }

    // MARK: - Position

    private var location: SourceLocation { SourceLocation(line: line, column: column, offset: index) }

    private func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        let i = index + ahead
        return i < scalars.count ? scalars[i] : nil
    }

    private mutating func advance() {
        guard index < scalars.count else { return }
        if scalars[index] == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    private func text(from start: SourceLocation) -> String {
        String(decoding: utf8[utf8Offsets[start.offset]..<utf8Offsets[index]], as: UTF8.self)
    }

    private func token(_ kind: Token.Kind, from start: SourceLocation) -> Token {
        Token(kind: kind, range: SourceRange(start: start, end: location), text: text(from: start))
    }

    private func invalid(_ message: String, at errorLocation: SourceLocation, from start: SourceLocation,
                         reachedEndOfInput: Bool = false) -> Token {
        token(.invalid(ParseError(location: errorLocation, message: message), reachedEndOfInput: reachedEndOfInput),
              from: start)
    }

    // MARK: - Tokens

    /// The next token; `.endOfInput` forever once the cell is used up.
    mutating func next() -> Token {
        if let bad = skipBlanksAndComments() { return bad }
        let start = location
        guard let c = peek() else { return token(.endOfInput, from: start) }
        switch c {
        case "\n":
            advance()
            return token(.newline, from: start)
        case "\"", "'":
            return lexString()
        case "0"..."9":
            return lexNumber()
        case "-":
            if let d = peek(1), isDigit(d) { return lexNumber() }
            advance()
            return invalid("`-` must be followed by a number, as in -1 or -2.5 (there is no subtraction)",
                           at: start, from: start)
        case ".":
            if peek(1) == "." {
                advance(); advance()
                return token(.dotDot, from: start)
            }
            if let d = peek(1), isDigit(d) {
                advance()
                while let d = peek(), isDigit(d) { advance() }
                return invalid("`\(text(from: start))` needs a digit before the decimal point: write 0\(text(from: start))",
                               at: start, from: start)
            }
            advance()
            return invalid("unexpected `.`: dots only go inside names like blocks.3.hook_resid_pre and in ranges like 0..29",
                           at: start, from: start)
        case "[": advance(); return token(.leftBracket, from: start)
        case "]": advance(); return token(.rightBracket, from: start)
        case ",": advance(); return token(.comma, from: start)
        case "=": advance(); return token(.equals, from: start)
        case "?": advance(); return token(.question, from: start)
        case ";":
            advance()
            return invalid("unexpected `;`: put each statement on its own line", at: start, from: start)
        default:
            if isIdentifierStart(c) { return lexIdentifier() }
            advance()
            return invalid("unexpected character `\(c)`: expected a name, a number, a string, a range or a [list]",
                           at: start, from: start)
        }
    }

    /// Skips spaces, tabs, `#` comments and `\` line continuations. Returns an invalid token for
    /// a `\` that is not the last thing on its line.
    private mutating func skipBlanksAndComments() -> Token? {
        while let c = peek() {
            switch c {
            case " ", "\t", "\r", "\u{0C}":
                advance()
            case "#":
                while let c = peek(), c != "\n" { advance() }
            case "\\":
                let start = location
                advance()
                while let c = peek(), c == " " || c == "\t" || c == "\r" { advance() }
                guard let after = peek() else {
                    endsWithDanglingContinuation = true
                    return nil
                }
                guard after == "\n" else {
                    return invalid("a `\\` outside a string continues the line, so it must be the last thing on its line",
                                   at: start, from: start)
                }
                advance()  // the newline is swallowed: the statement goes on
                if peek() == nil { endsWithDanglingContinuation = true }
            default:
                return nil
            }
        }
        return nil
    }

    private mutating func lexIdentifier() -> Token {
        let start = location
        advance()
        while let c = peek() {
            if isIdentifierContinue(c) {
                advance()
            } else if c == ".", let n = peek(1), isIdentifierContinue(n) {
                // A dot joins name parts (`blocks.3.hook_resid_pre`); `..` never does, so ranges stay ranges.
                advance()
            } else {
                break
            }
        }
        return token(.identifier(text(from: start)), from: start)
    }

    private mutating func lexNumber() -> Token {
        let start = location
        if peek() == "-" { advance() }
        while let d = peek(), isDigit(d) { advance() }
        var isFloat = false
        if peek() == ".", let d = peek(1), isDigit(d) {
            isFloat = true
            advance()
            while let d = peek(), isDigit(d) { advance() }
        }
        if let e = peek(), e == "e" || e == "E" {
            let signed = peek(1) == "+" || peek(1) == "-"
            if let d = peek(signed ? 2 : 1), isDigit(d) {
                isFloat = true
                advance()
                if signed { advance() }
                while let d = peek(), isDigit(d) { advance() }
            }
        }
        // Whatever sticks to the number without a blank makes it malformed: `1.2.3`, `3abc`, `1.`.
        if let c = peek(), isIdentifierContinue(c) || (c == "." && peek(1) != ".") {
            while let c = peek(), isIdentifierContinue(c) || (c == "." && peek(1) != ".") { advance() }
            let lexeme = text(from: start)
            let decimalPoints = lexeme.unicodeScalars.filter { $0 == "." }.count
            let message: String
            if decimalPoints > 1 {
                message = "`\(lexeme)` is not a number: a number has at most one decimal point"
            } else if lexeme.hasSuffix(".") {
                message = "`\(lexeme)` is not a number: write a digit after the decimal point, as in \(lexeme)0"
            } else {
                message = "`\(lexeme)` is not a number or a name: names start with a letter or `_`, numbers contain only digits, one `.` and an exponent"
            }
            return invalid(message, at: start, from: start)
        }
        let lexeme = text(from: start)
        if isFloat {
            guard let value = Double(lexeme), value.isFinite else {
                return invalid("the number \(lexeme) is too large", at: start, from: start)
            }
            return token(.float(value), from: start)
        }
        guard let value = Int(lexeme) else {
            return invalid("the number \(lexeme) is too large: integers must lie within ±\(Int.max)",
                           at: start, from: start)
        }
        return token(.int(value), from: start)
    }

    private mutating func lexString() -> Token {
        let start = location
        guard let quote = peek() else { return token(.endOfInput, from: start) }
        advance()
        var value = String.UnicodeScalarView()
        var firstError: ParseError?
        while true {
            guard let c = peek() else {
                let error = ParseError(
                    location: start,
                    message: "unterminated string: the string that starts here has no closing `\(quote)`")
                return token(.invalid(error, reachedEndOfInput: true), from: start)
            }
            if c == quote {
                advance()
                break
            }
            if c == "\\" {
                let escapeStart = location
                advance()
                switch lexEscape() {
                case .success(let scalar): value.append(scalar)
                case .failure(let message):
                    if firstError == nil { firstError = ParseError(location: escapeStart, message: message) }
                }
                continue
            }
            value.append(c)
            advance()
        }
        if let firstError { return token(.invalid(firstError, reachedEndOfInput: false), from: start) }
        return token(.string(String(value)), from: start)
    }

    private enum EscapeResult { case success(Unicode.Scalar), failure(String) }

    /// Reads what follows a `\` inside a string.
    private mutating func lexEscape() -> EscapeResult {
        guard let c = peek() else { return .failure("a `\\` at the end of the cell starts an escape that never ends") }
        switch c {
        case "n": advance(); return .success("\n")
        case "t": advance(); return .success("\t")
        case "r": advance(); return .success("\r")
        case "0": advance(); return .success("\0")
        case "\\": advance(); return .success("\\")
        case "\"": advance(); return .success("\"")
        case "'": advance(); return .success("'")
        case "u":
            advance()
            guard peek() == "{" else { return .failure("a \\u escape needs braces around hex digits, as in \\u{1F600}") }
            advance()
            var hex = ""
            while let h = peek(), h.properties.isASCIIHexDigit { hex.unicodeScalars.append(h); advance() }
            guard peek() == "}" else { return .failure("a \\u escape needs 1 to 8 hex digits closed by `}`, as in \\u{1F600}") }
            advance()
            guard (1...8).contains(hex.count), let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                return .failure("\\u{\(hex)} is not a Unicode scalar value")
            }
            return .success(scalar)
        default:
            advance()
            return .failure("unknown escape `\\\(c)` in a string: use \\n, \\t, \\\\, \\\", \\' or \\u{…} (write \\\\ for a backslash)")
        }
    }
}

// MARK: - Character classes

func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

func isIdentifierStart(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic }

func isIdentifierContinue(_ c: Unicode.Scalar) -> Bool {
    c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
}

/// Whether `word` reads as one name (`gemma3` does; `gemma3-270m` does not and must be quoted).
public func isName(_ word: String) -> Bool {
    Lexer.tokenize(word).tokens.map(\.kind) == [.identifier(word), .endOfInput]
}
