import XCTest
@testable import PeriscopeLanguage

/// `completeness(of:)` and `wordAtCursor(in:cursorOffset:)`, the parts the kernel's
/// is_complete, complete and inspect handlers rely on.
final class CompletenessTests: XCTestCase {
    func testCompleteCells() {
        XCTAssertEqual(completeness(of: ""), .complete)
        XCTAssertEqual(completeness(of: "# only a comment"), .complete)
        XCTAssertEqual(completeness(of: "run p top 3"), .complete)
        XCTAssertEqual(completeness(of: "x = [1,\n 2]\nlens x"), .complete)
        XCTAssertEqual(completeness(of: "lens p \\\n  top 3"), .complete)
    }

    func testOpenBracketIsIncompleteWithIndent() {
        XCTAssertEqual(completeness(of: "steer p scales [0, 2,"), .incomplete(indent: "    "))
        XCTAssertEqual(completeness(of: "d = dataset [[\"a\", \"pos\"],\n"), .incomplete(indent: "    "))
        XCTAssertEqual(completeness(of: "x [  # comment inside"), .incomplete(indent: "    "))
    }

    func testOpenStringIsIncompleteWithoutIndent() {
        XCTAssertEqual(completeness(of: "p = prompt \"cat -> cat\n1135 -> 1135"), .incomplete(indent: ""))
        XCTAssertEqual(completeness(of: "x ['a', 'b"), .incomplete(indent: ""))
    }

    func testTrailingBackslashIsIncomplete() {
        XCTAssertEqual(completeness(of: "lens p \\"), .incomplete(indent: "    "))
        XCTAssertEqual(completeness(of: "lens p \\  "), .incomplete(indent: "    "))
        XCTAssertEqual(completeness(of: "lens p \\\n"), .incomplete(indent: "    "))
        // A blank line after the continuation ends the statement.
        XCTAssertEqual(completeness(of: "lens p \\\n\n"), .complete)
    }

    func testErrorsMoreLinesCannotFixAreInvalid() {
        XCTAssertEqual(completeness(of: "run ]"), .invalid)
        XCTAssertEqual(completeness(of: "x 1.2.3"), .invalid)
        XCTAssertEqual(completeness(of: "x = "), .invalid)
        XCTAssertEqual(completeness(of: "x \"a\\q\""), .invalid)
        // An early error wins over an open bracket later on.
        XCTAssertEqual(completeness(of: "run ]\nx = [1,"), .invalid)
        XCTAssertEqual(completeness(of: "x [1 2"), .invalid)
    }
}

final class WordAtCursorTests: XCTestCase {
    /// `code` with a `|` marking the cursor.
    private func word(_ marked: String) -> (word: String, range: Range<Int>, statementHead: String?, previousWords: [String]) {
        let scalars = Array(marked.unicodeScalars)
        guard let cursor = scalars.firstIndex(of: "|") else {
            XCTFail("no cursor in \(marked)")
            return ("", 0..<0, nil, [])
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[..<cursor])
        view.append(contentsOf: scalars[(cursor + 1)...])
        return wordAtCursor(in: String(view), cursorOffset: cursor)
    }

    func testVerbAtStartOfStatement() {
        let w = word("le|")
        XCTAssertEqual(w.word, "le")
        XCTAssertEqual(w.range, 0..<2)
        XCTAssertNil(w.statementHead)
        XCTAssertEqual(w.previousWords, [])
    }

    func testEmptyCellAndCursorBeforeHead() {
        XCTAssertEqual(word("|").word, "")
        XCTAssertNil(word("|").statementHead)
        let mid = word("le|ns p")
        XCTAssertEqual(mid.word, "lens")
        XCTAssertEqual(mid.range, 0..<4)
        XCTAssertNil(mid.statementHead)
    }

    func testVerbAfterAssignment() {
        let w = word("x = pro|")
        XCTAssertEqual(w.word, "pro")
        XCTAssertEqual(w.range, 4..<7)
        XCTAssertNil(w.statementHead)
        let empty = word("x = |")
        XCTAssertEqual(empty.word, "")
        XCTAssertEqual(empty.range, 4..<4)
        XCTAssertNil(empty.statementHead)
    }

    func testHelpTopicCompletesAsAVerb() {
        let w = word("?pat|")
        XCTAssertEqual(w.word, "pat")
        XCTAssertNil(w.statementHead)
    }

    func testKeywordAfterVerb() {
        let w = word("lens p lay|")
        XCTAssertEqual(w.word, "lay")
        XCTAssertEqual(w.range, 7..<10)
        XCTAssertEqual(w.statementHead, "lens")
        XCTAssertEqual(w.previousWords, ["p"])
    }

    func testEmptyWordAfterArguments() {
        let w = word("x = lens p layers 0..3 positions [1, 2] |")
        XCTAssertEqual(w.word, "")
        XCTAssertEqual(w.range, 40..<40)
        XCTAssertEqual(w.statementHead, "lens")
        XCTAssertEqual(w.previousWords, ["p", "layers", "0..3", "positions", "[1, 2]"])
    }

    func testStringsAreOneWord() {
        let w = word("patch source p position \"Eiffel Tower\" in|")
        XCTAssertEqual(w.word, "in")
        XCTAssertEqual(w.statementHead, "patch")
        XCTAssertEqual(w.previousWords, ["source", "p", "position", "\"Eiffel Tower\""])
    }

    func testOnlyTheStatementUnderTheCursorCounts() {
        let w = word("run p top 3\nlens q |\nsteer v")
        XCTAssertEqual(w.statementHead, "lens")
        XCTAssertEqual(w.previousWords, ["q"])
        let start = word("run p\n|")
        XCTAssertNil(start.statementHead)
        let endOfFirst = word("run p|\nlens q")
        XCTAssertEqual(endOfFirst.word, "p")
        XCTAssertEqual(endOfFirst.statementHead, "run")
    }

    func testContinuedAndBracketedStatements() {
        let continued = word("lens p \\\n  lay|")
        XCTAssertEqual(continued.statementHead, "lens")
        XCTAssertEqual(continued.previousWords, ["p"])
        XCTAssertEqual(continued.range, 11..<14)
        let inList = word("similarity [v1,\n  v|")
        XCTAssertEqual(inList.word, "v")
        XCTAssertEqual(inList.statementHead, "similarity")
        XCTAssertEqual(inList.previousWords, [], "an open list is not a finished argument")
    }

    func testDottedHookNames() {
        let w = word("export p hook blocks.3.hook_|")
        XCTAssertEqual(w.word, "blocks.3.hook_")
        XCTAssertEqual(w.range, 14..<28)
        let trailingDot = word("export p hook blocks.|")
        XCTAssertEqual(trailingDot.word, "blocks.")
    }

    func testRangeIsNotOneDottedWord() {
        let w = word("lens p layers 0..2|")
        XCTAssertEqual(w.word, "2")
        XCTAssertEqual(w.range, 17..<18)
    }

    func testNoWordInsideStringOrComment() {
        let inString = word("prompt \"The Eif|fel\"")
        XCTAssertEqual(inString.word, "")
        XCTAssertEqual(inString.range, 15..<15)
        let inOpenString = word("prompt \"The Eif|")
        XCTAssertEqual(inOpenString.word, "")
        let inComment = word("run p # lay|")
        XCTAssertEqual(inComment.word, "")
        let afterString = word("prompt \"x\" ch|")
        XCTAssertEqual(afterString.word, "ch")
        XCTAssertEqual(afterString.statementHead, "prompt")
    }

    func testCursorCountsUnicodeScalars() {
        let w = word("prompt \"😀\" ch|")
        XCTAssertEqual(w.range, 11..<13)
        XCTAssertEqual(w.statementHead, "prompt")
    }

    func testCursorOutOfBoundsIsClamped() {
        let w = wordAtCursor(in: "lens p", cursorOffset: 99)
        XCTAssertEqual(w.word, "p")
        XCTAssertEqual(w.statementHead, "lens")
        XCTAssertEqual(wordAtCursor(in: "lens", cursorOffset: -5).word, "lens")
    }
}

final class SuggestionTests: XCTestCase {
    func testNearestByEditDistance() {
        XCTAssertEqual(suggestions(for: "layer", among: ["top", "layers", "positions", "hook"]), ["layers"])
        XCTAssertEqual(suggestions(for: "lense", among: ["load", "lens", "models"]), ["lens"])
        XCTAssertEqual(suggestions(for: "lnes", among: ["lens", "load"]), ["lens"], "a swap costs one")
        XCTAssertEqual(suggestions(for: "LENS", among: ["lens"]), ["lens"], "case is ignored")
    }

    func testOrderedByDistanceThenCandidateOrder() {
        XCTAssertEqual(suggestions(for: "tok", among: ["top", "tokens", "took"]), ["top", "took", "tokens"])
        XCTAssertEqual(suggestions(for: "stear", among: ["steer", "store", "stare"]), ["steer", "stare"], "store is 3 edits away")
    }

    func testPrefixMatches() {
        XCTAssertEqual(suggestions(for: "patchs", among: ["patch", "patchscope", "probe"]), ["patch", "patchscope"])
        XCTAssertEqual(suggestions(for: "pa", among: ["patchscope"]), [], "short prefixes are not enough")
    }

    func testFarWordsGetNothing() {
        XCTAssertEqual(suggestions(for: "x", among: ["lens", "top", "layers"]), [])
        XCTAssertEqual(suggestions(for: "banana", among: ["lens", "top", "layers"]), [])
        XCTAssertEqual(suggestions(for: "", among: ["lens"]), [])
        XCTAssertEqual(suggestions(for: "lens", among: []), [])
    }

    func testDistanceScalesWithLength() {
        // Two edits are fine for a word of 5, not for a word of 3.
        XCTAssertEqual(suggestions(for: "stere", among: ["steer"]), ["steer"])
        XCTAssertEqual(suggestions(for: "tpx", among: ["top"]), [])
        XCTAssertEqual(suggestions(for: "atention", among: ["attention"]), ["attention"])
    }

    func testEditDistance() {
        func d(_ a: String, _ b: String) -> Int { editDistance(Array(a.unicodeScalars), Array(b.unicodeScalars)) }
        XCTAssertEqual(d("kitten", "sitting"), 3)
        XCTAssertEqual(d("", "abc"), 3)
        XCTAssertEqual(d("abc", "abc"), 0)
        XCTAssertEqual(d("ab", "ba"), 1)
        XCTAssertEqual(d("ca", "abc"), 3)
    }

    func testDidYouMeanSentences() {
        XCTAssertEqual(didYouMean("layer", among: ["layers", "top"]), "Did you mean `layers`?")
        XCTAssertEqual(didYouMean("tok", among: ["top", "took"]), "Did you mean `top` or `took`?")
        XCTAssertEqual(didYouMean("tok", among: ["top", "took", "tokens", "toy"]), "Did you mean `top`, `took` or `toy`?")
        XCTAssertNil(didYouMean("zzz", among: ["lens"]))
    }
}
