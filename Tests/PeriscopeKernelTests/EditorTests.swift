import JupyterKernel
import JupyterProtocol
import XCTest
@testable import PeriscopeKernel

/// complete_request and inspect_request answers, driven by the command table.
final class EditorTests: XCTestCase {
    var interpreter: PeriscopeInterpreter!

    override func setUp() {
        interpreter = generalInterpreter()
        interpreter.register(CommandSpec(
            name: "scan", group: .lenses, synopsis: "scan p [layers R] [positions S] [top K] [hook H]",
            description: "A verb for editor tests.",
            positionals: [Parameter("p", .prompt, required: true)],
            keywords: [Parameter("layers", .layers), Parameter("positions", .positions),
                       Parameter("top", .int, summary: "how many tokens to list"),
                       Parameter("hook", .string, completions: { _, _ in ["resid_pre", "resid_post"] })],
            example: "scan p", run: { _, _ in nil }))
        _ = interpreter.execute(ExecuteRequest(code: "shadow = 1\nshape = 2\nprompt1 = \"x\""), io: RecordingIO())
    }

    func complete(_ code: String) -> Completion {
        interpreter.complete(code: code, cursorPosition: code.unicodeScalars.count)
    }

    func testVerbsAtStatementStart() {
        let c = complete("sh")
        XCTAssertEqual(c.matches, ["show", "shadow", "shape"], "verbs first, then variables")
        XCTAssertEqual(c.cursorStart, 0)
        XCTAssertEqual(c.cursorEnd, 2)
        XCTAssertEqual(complete("hel").matches, ["help"])
        XCTAssertEqual(complete("zzzz").matches, [])
    }

    func testMatchesCarryTheirKindForJupyterLab() {
        let c = complete("scan prompt1 ")
        let types = c.metadata["_jupyter_types_experimental"]?.arrayValue ?? []
        XCTAssertEqual(types.count, c.matches.count)
        XCTAssertEqual(types.first?["type"], "keyword")
        XCTAssertEqual(types.first?["start"], .int(13))
        XCTAssertEqual(complete("sh").metadata["_jupyter_types_experimental"]?.arrayValue?.compactMap { $0["type"]?.stringValue },
                       ["function", "variable", "variable"])
    }

    func testVerbAfterAssignment() {
        XCTAssertEqual(complete("y = pr").matches, ["print", "prompt1"])
    }

    func testKeywordsAfterVerbSkipUsedOnes() {
        XCTAssertEqual(complete("scan prompt1 ").matches, ["layers", "positions", "top", "hook"])
        XCTAssertEqual(complete("scan prompt1 top 3 ").matches, ["layers", "positions", "hook"])
        XCTAssertEqual(complete("scan prompt1 la").matches, ["layers"])
    }

    func testValuesAfterKeyword() {
        XCTAssertEqual(complete("scan prompt1 positions l").matches, ["last"])
        XCTAssertEqual(complete("scan prompt1 hook resid_p").matches, ["resid_post", "resid_pre"], "names sorted")
        XCTAssertEqual(complete("scan pro").matches, ["prompt1"], "the positional slot takes variables")
        let full = PeriscopeInterpreter()
        let code = "load \"x.gguf\" on lo"
        XCTAssertEqual(full.complete(code: code, cursorPosition: code.unicodeScalars.count).matches, ["local"],
                       "a keyword's own words")
    }

    func testHelpCompletesVerbNames() {
        XCTAssertEqual(complete("help sc").matches, ["scan"])
        XCTAssertEqual(complete("?sh").matches, ["show", "shadow", "shape"])
    }

    func testCursorRangeCountsUnicodeScalarsWithEmojiBefore() {
        // "🔭" is one scalar (two UTF-16 units, four UTF-8 bytes).
        let code = "print \"🔭\"\nscan prompt1 pos"
        let c = complete(code)
        XCTAssertEqual(c.matches, ["positions"])
        let scalars = code.unicodeScalars.count
        XCTAssertEqual(scalars, 26)
        XCTAssertEqual(c.cursorStart, scalars - 3)
        XCTAssertEqual(c.cursorEnd, scalars)
    }

    func testCursorInTheMiddleOfAWordReplacesTheWholeWord() {
        let code = "x = 👍👍 \nshow sha"
        // Cursor after "sh" of "sha".
        let cursor = code.unicodeScalars.count - 1
        let c = interpreter.complete(code: code, cursorPosition: cursor)
        XCTAssertEqual(c.matches, ["shadow", "shape"])
        XCTAssertEqual(c.cursorStart, cursor - 2)
        XCTAssertEqual(c.cursorEnd, cursor + 1)
    }

    // MARK: Inspection

    func testInspectVerbGivesHelpPage() {
        let data = interpreter.inspect(code: "help", cursorPosition: 4, detailLevel: 0)
        XCTAssertEqual(data?["text/plain"]?.stringValue?.hasPrefix("help [verb]"), true)
        XCTAssertNotNil(data?["text/html"])
    }

    func testInspectKeywordExplainsIt() {
        let code = "scan prompt1 top 3"
        let data = interpreter.inspect(code: code, cursorPosition: 15, detailLevel: 0)
        let text = data?["text/plain"]?.stringValue ?? ""
        XCTAssertTrue(text.contains("how many tokens to list"), text)
        XCTAssertTrue(text.contains("Takes an int."), text)
    }

    func testInspectVariableSummaryAndDetail() {
        XCTAssertEqual(interpreter.inspect(code: "show shape", cursorPosition: 8, detailLevel: 0)?["text/plain"],
                       "shape: int 2")
        let detailed = interpreter.inspect(code: "prompt1", cursorPosition: 3, detailLevel: 1)?["text/plain"]?.stringValue
        XCTAssertEqual(detailed, "prompt1: string \"x\"\n\n\"x\"")
    }

    func testInspectNothingKnown() {
        XCTAssertNil(interpreter.inspect(code: "nothing", cursorPosition: 3, detailLevel: 0))
        XCTAssertNil(interpreter.inspect(code: "print \"help\"", cursorPosition: 9, detailLevel: 0))
    }
}
