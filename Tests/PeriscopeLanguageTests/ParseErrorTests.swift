import XCTest
@testable import PeriscopeLanguage

/// Each diagnostic: what it says (found / expected) and where it points.
final class ParseErrorTests: XCTestCase {
    private func assertError(_ source: String, at expected: SourceLocation, contains fragments: [String],
                             file: StaticString = #filePath, line: UInt = #line) {
        guard let error = parseError(source, file: file, line: line) else { return }
        XCTAssertEqual(error.location, expected, "location of: \(error.message)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(error.message.contains(fragment), "“\(error.message)” lacks “\(fragment)”", file: file, line: line)
        }
    }

    // MARK: - Strings

    func testUnterminatedStringPointsAtItsOpeningQuote() {
        assertError("run p\nprompt \"The Eiffel", at: loc(2, 8, 13), contains: ["unterminated string", "closing `\"`"])
        assertError("x 'abc", at: loc(1, 3, 2), contains: ["unterminated string", "closing `'`"])
    }

    func testUnknownEscape() {
        assertError(#"x "a\qb""#, at: loc(1, 5, 4), contains: ["unknown escape `\\q`", "\\\\"])
    }

    func testBadUnicodeEscapes() {
        assertError(#"x "\u41""#, at: loc(1, 4, 3), contains: ["braces"])
        assertError(#"x "\u{D800}""#, at: loc(1, 4, 3), contains: ["not a Unicode scalar"])
        assertError(#"x "\u{123456789}""#, at: loc(1, 4, 3), contains: ["not a Unicode scalar"])
    }

    // MARK: - Brackets

    func testUnclosedBracketPointsAtTheOpeningBracket() {
        assertError("run p\nsteer p scales [1, 2,\n 3", at: loc(2, 16, 21), contains: ["unclosed `[`", "`]`"])
        assertError("x [", at: loc(1, 3, 2), contains: ["unclosed `[`"])
    }

    func testUnexpectedClosingBracket() {
        assertError("run p ]", at: loc(1, 7, 6), contains: ["unexpected `]`", "no open `[`"])
        assertError("]", at: loc(1, 1, 0), contains: ["unexpected `]`"])
    }

    func testMissingCommaInList() {
        assertError("x [1 2]", at: loc(1, 6, 5), contains: ["expected `,` or `]`", "the number 2"])
    }

    func testNextLineInsideOpenListMentionsTheBracket() {
        assertError("x = [1, 2\ny = 3", at: loc(2, 1, 10), contains: ["expected `,` or `]`", "the name `y`", "1:5 is still open"])
    }

    func testDoubleComma() {
        assertError("x [1,, 2]", at: loc(1, 6, 5), contains: ["expected a value", "`,`"])
        assertError("x [,]", at: loc(1, 4, 3), contains: ["expected a value after `[`"])
    }

    func testCommaOutsideList() {
        assertError("lens p, q", at: loc(1, 7, 6), contains: ["unexpected `,` outside a list", "spaces"])
    }

    // MARK: - Numbers and ranges

    func testRangeWithoutEnd() {
        assertError("lens p layers 1..", at: loc(1, 18, 17), contains: ["expected an integer after `..`", "the end of the cell"])
        assertError("lens p layers 1..\nrun p", at: loc(1, 18, 17), contains: ["the end of the line"])
        assertError("x 1..all", at: loc(1, 6, 5), contains: ["expected an integer after `..`", "the name `all`"])
    }

    func testRangeWithFloatOrNameEnds() {
        assertError("x 1.5..3", at: loc(1, 3, 2), contains: ["must be integers", "1.5"])
        assertError("x 1..3.5", at: loc(1, 6, 5), contains: ["must be integers", "3.5"])
        assertError("x a..3", at: loc(1, 3, 2), contains: ["integer literals", "`a`"])
    }

    func testRangeWithoutStart() {
        assertError("x ..3", at: loc(1, 3, 2), contains: ["unexpected `..`"])
        assertError("x 1..2..3", at: loc(1, 7, 6), contains: ["exactly two ends"])
    }

    func testMalformedNumbers() {
        assertError("x 1.2.3", at: loc(1, 3, 2), contains: ["`1.2.3` is not a number", "one decimal point"])
        assertError("x 3abc", at: loc(1, 3, 2), contains: ["`3abc` is not a number or a name"])
        assertError("x 1.", at: loc(1, 3, 2), contains: ["`1.` is not a number", "1.0"])
        assertError("x .5", at: loc(1, 3, 2), contains: ["write 0.5"])
        assertError("x 99999999999999999999", at: loc(1, 3, 2), contains: ["too large"])
        assertError("x 1e999", at: loc(1, 3, 2), contains: ["too large"])
    }

    func testLoneMinus() {
        assertError("x - 3", at: loc(1, 3, 2), contains: ["`-` must be followed by a number"])
    }

    // MARK: - Assignments and help

    func testEqualsWithNothingAfter() {
        assertError("x = ", at: loc(1, 4, 3), contains: ["expected a value or a command after `x =`", "the end of the cell"])
        assertError("x =  # nothing\nrun p", at: loc(1, 4, 3), contains: ["the end of the line"])
    }

    func testAssignmentToNonName() {
        assertError("3 = x", at: loc(1, 1, 0), contains: ["cannot assign to a number", "must be a name"])
        assertError("\"a\" = x", at: loc(1, 1, 0), contains: ["cannot assign to a string"])
        assertError("[a, b] = x", at: loc(1, 1, 0), contains: ["cannot assign to a list"])
        assertError("= 3", at: loc(1, 1, 0), contains: ["expected a name before `=`"])
    }

    func testSecondEquals() {
        assertError("x = y = 3", at: loc(1, 7, 6), contains: ["at most one name"])
        assertError("x = 3 = 4", at: loc(1, 7, 6), contains: ["at most one name"])
        assertError("x = = 3", at: loc(1, 5, 4), contains: ["found another `=`"])
        assertError("lens p = 3", at: loc(1, 8, 7), contains: ["only a single name may stand before `=`"])
    }

    func testMisplacedQuestionMark() {
        assertError("?", at: loc(1, 2, 1), contains: ["expected a verb name after `?`", "the end of the cell"])
        assertError("? 3", at: loc(1, 3, 2), contains: ["expected a verb name after `?`", "the number 3"])
        assertError("lens p?", at: loc(1, 7, 6), contains: ["?lens or lens?"])
        assertError("?lens p", at: loc(1, 7, 6), contains: ["expected the end of the line", "`?lens`"])
        assertError("x = ?lens", at: loc(1, 5, 4), contains: ["no value to assign"])
        assertError("x = lens?", at: loc(1, 9, 8), contains: ["no value to assign"])
    }

    // MARK: - Other characters

    func testValueFollowedByMore() {
        assertError("3 4", at: loc(1, 3, 2), contains: ["found the number 4 after a value", "takes no arguments"])
        assertError("\"a\" b", at: loc(1, 5, 4), contains: ["found the name `b`"])
    }

    func testStrayCharacters() {
        assertError("run p; lens p", at: loc(1, 6, 5), contains: ["`;`", "own line"])
        assertError("run (p)", at: loc(1, 5, 4), contains: ["unexpected character `(`"])
        assertError("x blocks. y", at: loc(1, 9, 8), contains: ["unexpected `.`"])
        assertError("run p \\ top 3", at: loc(1, 7, 6), contains: ["must be the last thing on its line"])
    }

    func testFirstErrorInSourceOrderWins() {
        // A parse error on line 1 is reported before a lexical error on line 2.
        assertError("run ]\nx 1.2.3", at: loc(1, 5, 4), contains: ["unexpected `]`"])
        assertError("x 1.2.3\nrun ]", at: loc(1, 3, 2), contains: ["1.2.3"])
    }

    func testDescriptionNamesLineAndColumn() {
        let error = parseError("run p\nlens ]")
        XCTAssertEqual(error?.description.hasPrefix("line 2, column 6: unexpected `]`"), true, error?.description ?? "")
    }
}
