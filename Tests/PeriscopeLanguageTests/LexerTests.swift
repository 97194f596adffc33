import XCTest
@testable import PeriscopeLanguage

/// Token kinds, spans and the continuation flag, below the parser.
final class LexerTests: XCTestCase {
    private func kinds(_ source: String) -> [Token.Kind] {
        Lexer.tokenize(source).tokens.map(\.kind)
    }

    func testPunctuationAndValues() {
        XCTAssertEqual(kinds("x = [1, -2.5] ? 0..3"), [
            .identifier("x"), .equals, .leftBracket, .int(1), .comma, .float(-2.5), .rightBracket,
            .question, .int(0), .dotDot, .int(3), .endOfInput,
        ])
    }

    /// `isName` agrees with the lexer: a word is a name exactly when it lexes as one identifier.
    func testIsNameAgreesWithTheLexer() {
        for word in ["smollm2", "m", "_x", "gemma3-270m", "3m", "a.b", "été", ""] {
            let one = kinds(word) == [.identifier(word), .endOfInput]
            XCTAssertEqual(isName(word), one, word)
        }
        XCTAssertTrue(isName("smollm2"))
        XCTAssertFalse(isName("gemma3-270m"))
    }

    func testRangeIsNotAFloat() {
        XCTAssertEqual(kinds("0..29"), [.int(0), .dotDot, .int(29), .endOfInput])
        XCTAssertEqual(kinds("-3..-1"), [.int(-3), .dotDot, .int(-1), .endOfInput])
        XCTAssertEqual(kinds("1.5..2"), [.float(1.5), .dotDot, .int(2), .endOfInput])
    }

    func testDotsJoinNamePartsButNeverMakeARange() {
        XCTAssertEqual(kinds("blocks.3.hook_resid_pre"), [.identifier("blocks.3.hook_resid_pre"), .endOfInput])
        XCTAssertEqual(kinds("a..b"), [.identifier("a"), .dotDot, .identifier("b"), .endOfInput])
    }

    func testNewlinesCommentsAndContinuations() {
        XCTAssertEqual(kinds("a # c [\nb \\\n c"), [
            .identifier("a"), .newline, .identifier("b"), .identifier("c"), .endOfInput,
        ])
    }

    func testTokenSpansAndText() {
        let tokens = Lexer.tokenize("x = \"a\\n\"\n  0..12").tokens
        XCTAssertEqual(tokens.map(\.text), ["x", "=", "\"a\\n\"", "\n", "0", "..", "12", ""])
        XCTAssertEqual(tokens[2].range, SourceRange(start: loc(1, 5, 4), end: loc(1, 10, 9)))
        XCTAssertEqual(tokens[3].range, SourceRange(start: loc(1, 10, 9), end: loc(2, 1, 10)))
        XCTAssertEqual(tokens[6].range, SourceRange(start: loc(2, 6, 15), end: loc(2, 8, 17)))
        XCTAssertEqual(tokens[7].range.start, loc(2, 8, 17))
    }

    /// Offsets count Unicode scalars while the text is sliced from UTF-8: scalars of one to four
    /// bytes, and a combining accent (two scalars, one character), must not shift either.
    func testTokenTextAndOffsetsAcrossMultibyteScalars() {
        let tokens = Lexer.tokenize("café = \"😀e\u{301}\" # ü\nx 'ß' ✓").tokens
        XCTAssertEqual(tokens.map(\.text), ["café", "=", "\"😀e\u{301}\"", "\n", "x", "'ß'", "✓", ""])
        XCTAssertEqual(tokens[0].range, SourceRange(start: loc(1, 1, 0), end: loc(1, 5, 4)))
        XCTAssertEqual(tokens[2].range, SourceRange(start: loc(1, 8, 7), end: loc(1, 13, 12)))
        XCTAssertEqual(tokens[2].kind, .string("😀e\u{301}"))
        XCTAssertEqual(tokens[5].range, SourceRange(start: loc(2, 3, 19), end: loc(2, 6, 22)))
        XCTAssertEqual(tokens[6].range.start, loc(2, 7, 23))
    }

    func testLexerKeepsGoingAfterAnError() {
        let tokens = Lexer.tokenize("x 1.2.3 y").tokens
        guard case .invalid(let error, let atEnd) = tokens[1].kind else { return XCTFail("expected an invalid token") }
        XCTAssertEqual(error.location, loc(1, 3, 2))
        XCTAssertFalse(atEnd)
        XCTAssertEqual(tokens[1].text, "1.2.3")
        XCTAssertEqual(tokens[2].kind, .identifier("y"))
    }

    func testOpenStringReachesTheEnd() {
        let tokens = Lexer.tokenize("p \"abc\ndef").tokens
        guard case .invalid(_, let atEnd) = tokens[1].kind else { return XCTFail("expected an invalid token") }
        XCTAssertTrue(atEnd)
        XCTAssertEqual(tokens[1].range.end, loc(2, 4, 10))
    }

    func testDanglingContinuation() {
        XCTAssertTrue(Lexer.tokenize("a \\").danglingContinuation)
        XCTAssertTrue(Lexer.tokenize("a \\ \t").danglingContinuation)
        XCTAssertTrue(Lexer.tokenize("a \\\n").danglingContinuation)
        XCTAssertFalse(Lexer.tokenize("a \\\nb").danglingContinuation)
        XCTAssertFalse(Lexer.tokenize("a \"\\\\\"").danglingContinuation, "a backslash inside a string is not a continuation")
        XCTAssertFalse(Lexer.tokenize("a # \\").danglingContinuation, "nor is one inside a comment")
    }
}
