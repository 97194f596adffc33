import XCTest
@testable import PeriscopeLanguage

/// Every form of `protocol/grammar.ebnf`, checked through the syntax tree the parser builds.
final class ParserTests: XCTestCase {
    // MARK: - Statements

    func testCommandWithArguments() {
        XCTAssertEqual(sketch(parsed("lens p layers 0..29 positions -3..-1 top 5")),
                       ["lens(p layers 0..29 positions -3..-1 top 5)"])
    }

    func testLoneIdentifierIsACommandWithoutArguments() {
        XCTAssertEqual(sketch(parsed("models")), ["models()"])
    }

    func testAssignmentOfCommand() {
        XCTAssertEqual(sketch(parsed("p = prompt \"The Eiffel Tower is in\" chat system 'Be brief.'")),
                       ["p = prompt(\"The Eiffel Tower is in\" chat system \"Be brief.\")"])
    }

    func testAssignmentOfLiteralAndOfName() {
        XCTAssertEqual(sketch(parsed("k = 5\ny = x\nz = [1, 2]")),
                       ["k = value 5", "y = x()", "z = value [1, 2]"])
    }

    func testAssignmentWithoutSpaces() {
        XCTAssertEqual(sketch(parsed("x=3")), ["x = value 3"])
    }

    func testBareValues() {
        XCTAssertEqual(sketch(parsed("\"text\"\n3\n-2.5\n[a, b]\n0..4")),
                       ["value \"text\"", "value 3", "value -2.5f", "value [a, b]", "value 0..4"])
    }

    func testHelpBothForms() {
        XCTAssertEqual(sketch(parsed("?lens\npatch?\n? trace\n??steer\nprobe??")),
                       ["help lens", "help patch", "help trace", "help steer", "help probe"])
    }

    func testHelpTopicRange() {
        let statements = parsed("?lens")
        guard case .help(_, let range) = statements.first?.body else { return XCTFail("not a help statement") }
        XCTAssertEqual(range, SourceRange(start: loc(1, 2, 1), end: loc(1, 6, 5)))
        let suffix = parsed("lens?")
        guard case .help(_, let range2) = suffix.first?.body else { return XCTFail("not a help statement") }
        XCTAssertEqual(range2, SourceRange(start: loc(1, 1, 0), end: loc(1, 5, 4)))
    }

    func testSpecExamplesParse() {
        let cell = """
        m = load "smollm2"
        p = prompt "The Eiffel Tower is in the city of" chat
        run p top 10
        patch source p layer 12 position "Tower" into identity layer 2 generate 8
        patchscope p position last target description layers 0..29 target_layer same
        trace clean corrupt answer " Paris" against " Rome" hook resid_pre layers all
        v = direction ["I love it", "Great"] minus ["I hate it", "Awful"] layer 8 position mean
        steer p with v layer 8 scales [-4, 0, 2.5, 4] generate 20
        d = dataset [["good", "pos"], ["bad", "neg"]]
        export p hook "blocks.3.hook_resid_pre" to "x.npy"
        hooks layer 3
        """
        XCTAssertEqual(sketch(parsed(cell)), [
            "m = load(\"smollm2\")",
            "p = prompt(\"The Eiffel Tower is in the city of\" chat)",
            "run(p top 10)",
            "patch(source p layer 12 position \"Tower\" into identity layer 2 generate 8)",
            "patchscope(p position last target description layers 0..29 target_layer same)",
            "trace(clean corrupt answer \" Paris\" against \" Rome\" hook resid_pre layers all)",
            "v = direction([\"I love it\", \"Great\"] minus [\"I hate it\", \"Awful\"] layer 8 position mean)",
            "steer(p with v layer 8 scales [-4, 0, 2.5f, 4] generate 20)",
            "d = dataset([[\"good\", \"pos\"], [\"bad\", \"neg\"]])",
            "export(p hook \"blocks.3.hook_resid_pre\" to \"x.npy\")",
            "hooks(layer 3)",
        ])
    }

    // MARK: - Lines, comments and continuation

    func testBlankAndCommentLinesProduceNothing() {
        XCTAssertEqual(parsed("").count, 0)
        XCTAssertEqual(parsed("\n\n  \n# just a comment\n   # another\n").count, 0)
        XCTAssertEqual(sketch(parsed("# setup\n\nrun p # top-1\n\n")), ["run(p)"])
    }

    func testCommentMayHoldQuotesAndBrackets() {
        XCTAssertEqual(sketch(parsed("run p # don't [ close \"this")), ["run(p)"])
    }

    func testBackslashContinuesTheLine() {
        XCTAssertEqual(sketch(parsed("lens p \\\n  layers 0..3 \\   \n  top 2\nrun p")),
                       ["lens(p layers 0..3 top 2)", "run(p)"])
    }

    func testNewlinesInsideBracketsAreIgnored() {
        let cell = "steer p scales [\n  0,\n  2, # mid\n\n  4\n]\nrun p"
        XCTAssertEqual(sketch(parsed(cell)), ["steer(p scales [0, 2, 4])", "run(p)"])
    }

    func testCarriageReturnLineEndings() {
        XCTAssertEqual(sketch(parsed("run p\r\nlens p\r\n")), ["run(p)", "lens(p)"])
    }

    // MARK: - Values

    func testNumbers() {
        XCTAssertEqual(sketch(parsed("x 0 42 -7 1.5 -2.5 1e-3 2E3 3.5e+2")),
                       ["x(0 42 -7 1.5f -2.5f 0.001f 2000.0f 350.0f)"])
    }

    func testRanges() {
        XCTAssertEqual(sketch(parsed("x 0..29 -3..-1 5 .. 7 0..-1")), ["x(0..29 -3..-1 5..7 0..-1)"])
    }

    func testListsNestedEmptyAndTrailingComma() {
        XCTAssertEqual(sketch(parsed("x [] [1,2,] [[1, 2], [3]] [0..3, all, \"a\"]")),
                       ["x([] [1, 2] [[1, 2], [3]] [0..3, all, \"a\"])"])
    }

    func testIdentifiersWithDotsAndUnderscores() {
        XCTAssertEqual(sketch(parsed("hook blocks.3.hook_resid_pre ln_final.hook_normalized _x café")),
                       ["hook(blocks.3.hook_resid_pre ln_final.hook_normalized _x café)"])
    }

    func testStringEscapes() {
        let statements = parsed(#"x "a\nb\tc\\d\"e\'f" 'it\'s "ok"' "\u{1F600}\u{41}" "\0\r""#)
        guard case .command(_, _, let args) = statements.first?.body, args.count == 4 else {
            return XCTFail("expected four string arguments")
        }
        XCTAssertEqual(args[0].kind, .string("a\nb\tc\\d\"e'f"))
        XCTAssertEqual(args[1].kind, .string("it's \"ok\""))
        XCTAssertEqual(args[2].kind, .string("😀A"))
        XCTAssertEqual(args[3].kind, .string("\0\r"))
    }

    func testStringsMaySpanLines() {
        XCTAssertEqual(sketch(parsed("p = prompt \"cat -> cat\n? ->\"\nrun p")),
                       ["p = prompt(\"cat -> cat\n? ->\")", "run(p)"])
    }

    // MARK: - Locations

    func testExpressionAndStatementRanges() {
        let statements = parsed("run p\n  x = lens p 0..3 [1, 2]")
        XCTAssertEqual(statements.count, 2)
        XCTAssertEqual(statements[0].range, SourceRange(start: loc(1, 1, 0), end: loc(1, 6, 5)))
        let second = statements[1]
        XCTAssertEqual(second.range, SourceRange(start: loc(2, 3, 8), end: loc(2, 25, 30)))
        XCTAssertEqual(second.assignment?.range, SourceRange(start: loc(2, 3, 8), end: loc(2, 4, 9)))
        guard case .command(let head, let headRange, let args) = second.body else { return XCTFail("not a command") }
        XCTAssertEqual(head, "lens")
        XCTAssertEqual(headRange, SourceRange(start: loc(2, 7, 12), end: loc(2, 11, 16)))
        XCTAssertEqual(args.map(\.range), [
            SourceRange(start: loc(2, 12, 17), end: loc(2, 13, 18)),
            SourceRange(start: loc(2, 14, 19), end: loc(2, 18, 23)),
            SourceRange(start: loc(2, 19, 24), end: loc(2, 25, 30)),
        ])
    }

    func testLocationsCountUnicodeScalars() {
        // "é" is one scalar, "😀" is one scalar (two UTF-16 units, four UTF-8 bytes).
        let statements = parsed("x \"😀é\" y")
        guard case .command(_, _, let args) = statements.first?.body else { return XCTFail("not a command") }
        XCTAssertEqual(args[1].range.start, loc(1, 8, 7))
    }

    func testContinuedStatementSpansLines() {
        let statements = parsed("lens p \\\n top 3")
        XCTAssertEqual(statements.first?.range, SourceRange(start: loc(1, 1, 0), end: loc(2, 7, 15)))
    }

    func testThrowingEntryPointMatchesResultEntryPoint() throws {
        let viaThrows = try Parser.parse("run p top 3")
        XCTAssertEqual(viaThrows, parsed("run p top 3"))
        XCTAssertThrowsError(try Parser.parse("run ]"))
    }
}
