import JupyterKernel
import JupyterProtocol
import XCTest
@testable import PeriscopeKernel

/// The argument binder, through a verb declared like the model verbs will be.
final class BinderTests: XCTestCase {
    /// What the last run of the `scan` verb received.
    final class Box: @unchecked Sendable { var bound: BoundArguments? }

    var interpreter: PeriscopeInterpreter!
    var box: Box!

    override func setUp() {
        interpreter = generalInterpreter()
        let box = Box()
        self.box = box
        interpreter.register(CommandSpec(
            name: "scan", group: .lenses,
            synopsis: "scan p [layers R] [positions S] [top K] [hook H] [chat] [target_layer same|N] [scale X]",
            description: "A verb for binder tests.",
            positionals: [Parameter("p", .prompt, required: true)],
            keywords: [
                Parameter("layers", .layers), Parameter("positions", .positions), Parameter("top", .int),
                Parameter("hook", .string, completions: { _, _ in ["resid_post", "resid_pre"] }),
                Parameter("chat", .flag), Parameter("target_layer", .choice(["same"], allowsInt: true)),
                Parameter("scale", .float),
            ],
            example: "scan \"The cat\" layers 0..3",
            run: { arguments, _ in box.bound = arguments; return nil }))
    }

    func bind(_ code: String, file: StaticString = #filePath, line: UInt = #line) -> BoundArguments? {
        box.bound = nil
        let outcome = interpreter.execute(ExecuteRequest(code: code), io: RecordingIO())
        XCTAssertEqual(outcome, .ok, file: file, line: line)
        return box.bound
    }

    func error(_ code: String, file: StaticString = #filePath, line: UInt = #line) -> (String, [String]) {
        guard case .error(_, let value, let traceback) = interpreter.execute(ExecuteRequest(code: code), io: RecordingIO()) else {
            XCTFail("expected an error for \(code)", file: file, line: line)
            return ("", [])
        }
        return (value, traceback)
    }

    func testKeywordsInAnyOrderAndFlags() throws {
        let a = try XCTUnwrap(bind("scan \"The cat\" top 5 chat layers 0..3 positions -1"))
        let b = try XCTUnwrap(bind("scan \"The cat\" positions -1 layers 0..3 chat top 5"))
        for args in [a, b] {
            XCTAssertEqual(args.string("p"), "The cat")
            XCTAssertEqual(args.int("top"), 5)
            XCTAssertTrue(args.flag("chat"))
            XCTAssertEqual(args.layers("layers")?.kind, .range(0, 3))
            XCTAssertEqual(args.positions("positions")?.kind, .indices([-1]))
        }
        XCTAssertFalse(try XCTUnwrap(bind("scan \"x\"")).flag("chat"))
    }

    func testLayerForms() throws {
        XCTAssertEqual(bind("scan \"x\" layers all")?.layers("layers")?.kind, .all)
        XCTAssertEqual(bind("scan \"x\" layers [1, 5, 9]")?.layers("layers")?.kind, .indices([1, 5, 9]))
        XCTAssertEqual(bind("scan \"x\" layers 4")?.layers("layers")?.kind, .indices([4]))
        _ = interpreter.execute(ExecuteRequest(code: "mid = 10..12"), io: RecordingIO())
        let selection = try XCTUnwrap(bind("scan \"x\" layers mid")?.layers("layers"))
        XCTAssertEqual(try selection.resolve(layerCount: 30), [10, 11, 12])
        XCTAssertThrowsError(try selection.resolve(layerCount: 11)) { error in
            XCTAssertEqual((error as? CommandError)?.description,
                           "layer 11 is out of range; valid: 0..10 (the model has 11 layers).")
        }
    }

    func testPositionForms() throws {
        XCTAssertEqual(bind("scan \"x\" positions last")?.positions("positions")?.kind, .last)
        XCTAssertEqual(bind("scan \"x\" positions all")?.positions("positions")?.kind, .all)
        XCTAssertEqual(bind("scan \"x\" positions -3..-1")?.positions("positions")?.kind, .range(-3, -1))
        let text = try XCTUnwrap(bind("scan \"The Eiffel Tower\" positions \"Tower\"")?.positions("positions"))
        XCTAssertEqual(text.kind, .text("Tower"))
        // The tokenizer hook decides where the text is.
        XCTAssertEqual(try text.resolve(tokenCount: 5, locate: { $0 == "Tower" ? 3 : nil }), [3])
        XCTAssertThrowsError(try text.resolve(tokenCount: 5, locate: { _ in nil }))
        XCTAssertEqual(try PositionSelection(.range(-3, -1)).resolve(tokenCount: 6), [3, 4, 5])
        XCTAssertEqual(try PositionSelection(.last).resolve(tokenCount: 6), [5])
        XCTAssertThrowsError(try PositionSelection(.indices([6])).resolve(tokenCount: 6))
        XCTAssertThrowsError(try PositionSelection(.indices([-7])).resolve(tokenCount: 6))
    }

    func testChoiceAcceptsWordOrInt() {
        XCTAssertEqual(bind("scan \"x\" target_layer same")?.word("target_layer"), "same")
        XCTAssertEqual(bind("scan \"x\" target_layer 3")?.int("target_layer"), 3)
        let (message, _) = error("scan \"x\" target_layer 2.5")
        XCTAssertEqual(message, "`target_layer` of `scan` expects one of `same`, an int, but got a float `2.5`.")
    }

    func testMisspeltChoiceNamesTheValidWordsNotAMissingVariable() {
        let (message, traceback) = error("scan \"x\" target_layer sam")
        XCTAssertEqual(message, "`sam` is not a valid `target_layer` for `scan`; did you mean `same`? valid: `same`.")
        XCTAssertTrue(traceback[0].hasPrefix("line 1, column 23: "), traceback[0])
        // A variable of that name is still its value (and then type-checked).
        _ = interpreter.execute(ExecuteRequest(code: "sam = 4"), io: RecordingIO())
        XCTAssertEqual(bind("scan \"x\" target_layer sam")?.int("target_layer"), 4)
    }

    func testFloatAcceptsInt() {
        XCTAssertEqual(bind("scan \"x\" scale 2")?.float("scale"), 2)
    }

    func testUnknownKeywordSuggestsNearestAndListsValid() {
        let (message, traceback) = error("scan \"x\" layer 3")
        XCTAssertEqual(message, "unknown keyword `layer` for `scan`; did you mean `layers`? valid keywords: layers, positions, top, hook, chat, target_layer, scale.")
        XCTAssertTrue(traceback[0].hasPrefix("line 1, column 10: "), traceback[0])
        XCTAssertEqual(traceback[2], "           ^^^^^")
    }

    func testUnknownKeywordWithoutNearOne() {
        let (message, _) = error("scan \"x\" zebra 3")
        XCTAssertTrue(message.hasPrefix("unknown keyword `zebra` for `scan`; valid keywords: layers"), message)
    }

    func testMisspeltKeywordInPositionalSlotIsReportedAsKeyword() {
        let (message, _) = error("scan tpo 3")
        XCTAssertTrue(message.contains("did you mean `top`?"), message)
    }

    func testTypeMismatchNamesKeywordKindAndGiven() {
        let (message, traceback) = error("scan \"x\"\\\n  top \"five\"")
        XCTAssertEqual(message, "`top` of `scan` expects an int, but got a string `\"five\"`.")
        XCTAssertTrue(traceback[0].hasPrefix("line 2, column 7: "), traceback[0])
        _ = interpreter.execute(ExecuteRequest(code: "n = \"ten\""), io: RecordingIO())
        XCTAssertEqual(error("scan \"x\" top n").0, "`top` of `scan` expects an int, but got `n` (a string).")
        XCTAssertEqual(error("scan 3").0, "`p` of `scan` expects a prompt (a string or a prompt variable), but got an int `3`.")
    }

    func testKeywordWithoutValue() {
        XCTAssertEqual(error("scan \"x\" top").0, "keyword `top` of `scan` needs a value (an int) after it.")
        XCTAssertEqual(error("scan \"x\" top chat").0, "keyword `top` of `scan` needs a value (an int) after it.")
    }

    func testVariableNamedLikeAKeywordCanBeItsValue() {
        _ = interpreter.execute(ExecuteRequest(code: "layers = 2..4"), io: RecordingIO())
        XCTAssertEqual(bind("scan \"x\" layers layers top 1")?.layers("layers")?.kind, .range(2, 4))
    }

    func testDuplicateKeyword() {
        XCTAssertEqual(error("scan \"x\" top 1 top 2").0, "keyword `top` is given twice to `scan`; keep one.")
    }

    func testMissingRequiredPositional() {
        let (message, traceback) = error("scan top 3")
        XCTAssertTrue(message.hasPrefix("`scan` needs a prompt"), message)
        XCTAssertTrue(traceback[0].hasPrefix("line 1, column 1"), traceback[0])
    }

    func testCommandTableDrivesHelpForNewVerb() {
        let io = RecordingIO()
        _ = interpreter.execute(ExecuteRequest(code: "help scan"), io: io)
        let page = io.results.first ?? ""
        XCTAssertTrue(page.contains("target_layer same|N"), page)
        XCTAssertTrue(page.contains("Keywords:"), page)
        let overview = RecordingIO()
        _ = interpreter.execute(ExecuteRequest(code: "help"), io: overview)
        let text = overview.results.first ?? ""
        XCTAssertTrue(text.contains("Lenses and attention\n  scan p [layers R]"), text)
        // A synopsis too long to align has its headline on the next line.
        XCTAssertTrue(text.contains("[scale X]\n                                        A verb for binder tests\n"), text)
    }
}
