import Foundation
import JupyterKernel
import JupyterProtocol
import XCTest
@testable import PeriscopeKernel

final class InterpreterTests: XCTestCase {
    var interpreter: PeriscopeInterpreter!

    override func setUp() { interpreter = generalInterpreter() }

    @discardableResult
    func run(_ code: String, io: RecordingIO = RecordingIO()) -> (ExecuteOutcome, RecordingIO) {
        (interpreter.execute(ExecuteRequest(code: code), io: io), io)
    }

    func errorParts(_ outcome: ExecuteOutcome, file: StaticString = #filePath, line: UInt = #line)
        -> (name: String, value: String, traceback: [String])
    {
        guard case .error(let name, let value, let traceback) = outcome else {
            XCTFail("expected an error, got \(outcome)", file: file, line: line)
            return ("", "", [])
        }
        return (name, value, traceback)
    }

    // MARK: Display rules

    func testLastStatementIsResultEarlierOnesAreDisplayData() {
        let (outcome, io) = run("1\n\"two\"\n0..3")
        XCTAssertEqual(outcome, .ok)
        XCTAssertEqual(io.displays, ["1", "\"two\""])
        XCTAssertEqual(io.results, ["0..3"])
    }

    func testAssignmentIsSilentAndBinds() {
        let (outcome, io) = run("x = 7")
        XCTAssertEqual(outcome, .ok)
        XCTAssertTrue(io.outputs.isEmpty)
        let (_, io2) = run("x")
        XCTAssertEqual(io2.results, ["7"])
    }

    func testShowIsAlwaysDisplayData() {
        let (outcome, io) = run("x = [1, 2.5, \"a\"]\nshow x")
        XCTAssertEqual(outcome, .ok)
        XCTAssertEqual(io.displays, ["[1, 2.5, \"a\"]"])
        XCTAssertTrue(io.results.isEmpty, "show produces no execute_result")
    }

    func testPrintWritesStdoutWithoutQuotes() {
        let (outcome, io) = run("print \"hello, world\"\nprint 3")
        XCTAssertEqual(outcome, .ok)
        XCTAssertEqual(io.stdout, "hello, world\n3\n")
        XCTAssertTrue(io.results.isEmpty)
    }

    func testListsResolveVariables() {
        run("a = 1\nb = \"z\"")
        let (_, io) = run("[a, b, all]")
        XCTAssertEqual(io.results, ["[1, \"z\", all]"])
    }

    func testHelpWithoutVerbListsGroups() {
        let (outcome, io) = run("help")
        XCTAssertEqual(outcome, .ok)
        let text = io.results.first ?? ""
        XCTAssertTrue(text.contains("General"), text)
        XCTAssertTrue(text.contains("print value"), text)
        XCTAssertTrue(text.contains("show x"), text)
    }

    func testHelpForVerbHasSynopsisAndExample() {
        let (_, io) = run("help print")
        let text = io.results.first ?? ""
        XCTAssertTrue(text.hasPrefix("print value"), text)
        XCTAssertTrue(text.contains("Example:\n  print \"hello\""), text)
    }

    func testHelpHTMLEscapesAndMarksCode() {
        XCTAssertEqual(codeSpans("a `<b>` c"), "a <code>&lt;b&gt;</code> c")
        XCTAssertEqual(codeSpans("odd ` one"), "odd ` one")
        XCTAssertEqual(codeSpans("`x` and `y"), "<code>x</code> and `y")
    }

    func testSummariesStayShort() {
        let long = String(repeating: "ab", count: 100)
        XCTAssertEqual(Value.string(long).summary, "string \"" + String(repeating: "ab", count: 37) + "a…\" (200 characters)")
        XCTAssertEqual(Value.list([.int(1), .int(2)]).summary, "list of 2 items")
        XCTAssertEqual(Value.float(0.5).render().plainText, "0.5")
        XCTAssertEqual(Value.string("a\"b\\").sourceText, "\"a\\\"b\\\\\"")
    }

    func testSessionKeysHoldVerbStateAcrossCells() {
        enum CounterKey: SessionKey { typealias Value = Int }
        interpreter.register(CommandSpec(name: "tick", group: .general, synopsis: "tick", description: "Counts.",
                                         example: "tick", run: { _, context in
            let next = (context.session[CounterKey.self] ?? 0) + 1
            context.session[CounterKey.self] = next
            return .int(next)
        }))
        run("tick")
        run("frobnicate")
        XCTAssertEqual(run("tick").1.results, ["2"], "state survives cells, failing ones included")
    }

    func testOverviewHeadlinesAreFirstSentencesKeptShort() {
        XCTAssertEqual(firstSentence("Writes a file, e.g. `x.npy`. Then more."), "Writes a file, e.g. `x.npy`")
        XCTAssertEqual(firstSentence("Version 1.5 of it. More."), "Version 1.5 of it")
        XCTAssertEqual(shortened("one two three four", to: 12), "one two…")
        XCTAssertEqual(shortened("short", to: 12), "short")
    }

    // MARK: Errors

    func testParseErrorHasLineColumnSourceAndCaret() {
        let (outcome, _) = run("print \"ok\"\nx = [1, 2")
        let e = errorParts(outcome)
        XCTAssertEqual(e.name, "SyntaxError")
        XCTAssertTrue(e.traceback[0].hasPrefix("line 2, column 5: "), e.traceback[0])
        XCTAssertEqual(e.traceback[1], "  x = [1, 2")
        XCTAssertEqual(e.traceback[2], "      ^")
    }

    func testSyntaxErrorInMultiLineStatementShowsWhereItStarts() {
        let e = errorParts(run("x = 1\nprint [1, 2\nprint \"after\"").0)
        XCTAssertTrue(e.traceback[0].hasPrefix("line 3, column 1: "), e.traceback[0])
        XCTAssertEqual(Array(e.traceback.dropFirst(3)), ["in the statement that starts on line 2:", "  print [1, 2"])
        XCTAssertEqual(errorParts(run("x = ]").0).traceback.count, 3, "single-line statements need no context")
    }

    func testParseErrorRunsNothing() {
        let (_, io) = run("print \"before\"\nprint ]")
        XCTAssertEqual(io.stdout, "", "a cell that does not parse runs no statement")
    }

    func testUnknownVerbSuggestsAndEarlierStatementsRan() {
        let (outcome, io) = run("print \"ok\"\nhelp\nshwo 3")
        let e = errorParts(outcome)
        XCTAssertEqual(e.name, "CommandError")
        XCTAssertEqual(e.value, "unknown command `shwo`; did you mean `show`? Type `help` to list the commands.")
        XCTAssertTrue(e.traceback[0].hasPrefix("line 3, column 1: "))
        XCTAssertEqual(e.traceback[2], "  ^^^^")
        XCTAssertEqual(io.stdout, "ok\n")
        XCTAssertEqual(io.displays.count, 1, "help (not last) was displayed before the error")
    }

    func testVariablesSurviveAFailingCell() {
        run("keep = 41")
        let (outcome, _) = run("other = 1\nfrobnicate 1\nlost = 2")
        XCTAssertNotEqual(outcome, .ok)
        XCTAssertEqual(interpreter.session.variables["keep"].map(\.sourceText), "41")
        XCTAssertEqual(interpreter.session.variables["other"].map(\.sourceText), "1", "bound before the error")
        XCTAssertNil(interpreter.session.variables["lost"], "after the error nothing runs")
    }

    func testUndefinedVariableSuggestsNearName() {
        run("prompt1 = \"The cat\"")
        let (outcome, _) = run("print promt1")
        let e = errorParts(outcome)
        XCTAssertEqual(e.value, "`promt1` is not defined; did you mean `prompt1`? Assign it first, e.g. `promt1 = …`.")
        XCTAssertTrue(e.traceback[0].hasPrefix("line 1, column 7"), e.traceback[0])
        XCTAssertEqual(e.traceback[2], "        ^^^^^^")
    }

    func testUnexpectedExtraArgument() {
        let (outcome, _) = run("print 1 2")
        let e = errorParts(outcome)
        XCTAssertTrue(e.value.contains("does not take the extra argument an int `2`"), e.value)
        XCTAssertTrue(e.traceback[0].hasPrefix("line 1, column 9"), e.traceback[0])
    }

    func testMissingArgument() {
        let e = errorParts(run("show").0)
        XCTAssertTrue(e.value.hasPrefix("`show` needs"), e.value)
    }

    func testTypeMismatchForSleep() {
        let e = errorParts(run("sleep \"long\"").0)
        XCTAssertEqual(e.value, "`seconds` of `sleep` expects a number, but got a string `\"long\"`.")
        XCTAssertTrue(e.traceback[0].hasPrefix("line 1, column 7"))
    }

    func testAssigningNothingIsAnError() {
        let e = errorParts(run("x = print 1").0)
        XCTAssertEqual(e.value, "`print` produces no value, so there is nothing to assign to `x`.")
        XCTAssertNil(interpreter.session.variables["x"])
    }

    func testVerbNamesCannotBeAssigned() {
        let e = errorParts(run("help = 3").0)
        XCTAssertTrue(e.value.contains("is the name of a command"), e.value)
        XCTAssertTrue(e.traceback[0].hasPrefix("line 1, column 1: "), e.traceback[0])
        let (outcome, io) = run("show = print \"side effect\"")
        XCTAssertNotEqual(outcome, .ok)
        XCTAssertEqual(io.stdout, "", "the command does not run when its result cannot be bound")
        XCTAssertTrue(errorParts(run("last = 1").0).value.contains("reserved word"))
    }

    func testHelpForUnknownVerbSuggests() {
        let e = errorParts(run("help shw").0)
        XCTAssertTrue(e.value.contains("did you mean `show`?"), e.value)
    }

    // MARK: Pager

    func testQuestionMarkOpensThePager() {
        for code in ["?help", "help?"] {
            let (outcome, io) = run(code)
            XCTAssertEqual(outcome, .ok)
            guard case .payload(let payload)? = io.outputs.first else { return XCTFail("no payload for \(code)") }
            XCTAssertEqual(payload["source"], "page")
            XCTAssertEqual(payload["start"], 0)
            XCTAssertTrue(payload["data"]?["text/plain"]?.stringValue?.hasPrefix("help [verb]") ?? false)
            XCTAssertNotNil(payload["data"]?["text/html"]?.stringValue)
            XCTAssertTrue(io.results.isEmpty)
        }
    }

    func testPagerForUnknownTopicIsAnError() {
        let e = errorParts(run("?hepl").0)
        XCTAssertTrue(e.value.contains("did you mean `help`?"), e.value)
    }

    // MARK: Interrupts

    func testInterruptStopsSleepQuicklyAndKeepsState() {
        run("kept = 5")
        let io = RecordingIO()
        io.isInterrupted = true
        let start = Date()
        let e = errorParts(interpreter.execute(ExecuteRequest(code: "sleep 30"), io: io))
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.2)
        XCTAssertEqual(e.name, "KeyboardInterrupt")
        XCTAssertEqual(run("kept").1.results, ["5"])
    }

    func testErrorsOfOtherTargetsKeepTheirNameAndSentence() {
        struct GGUFError: Error, CustomStringConvertible {
            var description: String { "the file is not GGUF (bad magic); check the path." }
        }
        interpreter.register(CommandSpec(name: "boom", group: .models, synopsis: "boom", description: "Fails.",
                                         example: "boom", run: { _, _ in throw GGUFError() }))
        let e = errorParts(run("x = 1\n  boom").0)
        XCTAssertEqual(e.name, "GGUFError")
        XCTAssertEqual(e.value, "the file is not GGUF (bad magic); check the path.")
        XCTAssertEqual(e.traceback, ["line 2, column 3: the file is not GGUF (bad magic); check the path.",
                                     "    boom", "    ^^^^"])
    }

    func testQuestionMarkOnVariableShowsItsSummary() {
        run("p = \"The cat\"")
        let (_, io) = run("?p")
        guard case .payload(let payload)? = io.outputs.first else { return XCTFail("no payload") }
        XCTAssertEqual(payload["data"]?["text/plain"], "p: string \"The cat\"\n\n\"The cat\"")
    }

    func testInterruptFromAnotherThreadStopsARunningCommandWithin200ms() {
        let io = RecordingIO()
        let interruptedAt = Mutex<Date?>(nil)
        let thread = Thread {
            Thread.sleep(forTimeInterval: 0.3)
            interruptedAt.withLock { $0 = Date() }
            io.isInterrupted = true
        }
        thread.start()
        let e = errorParts(interpreter.execute(ExecuteRequest(code: "x = 1\nsleep 30\ny = 2"), io: io))
        let stopped = Date()
        XCTAssertEqual(e.name, "KeyboardInterrupt")
        XCTAssertTrue(e.traceback[0].hasPrefix("line 2, column 1: "), e.traceback[0])
        let latency = stopped.timeIntervalSince(interruptedAt.withLock { $0 } ?? .distantPast)
        XCTAssertLessThan(latency, 0.2)
        XCTAssertNotNil(interpreter.session.variables["x"])
        XCTAssertNil(interpreter.session.variables["y"])
    }

    // MARK: user_expressions, is_complete, info

    func testUserExpressions() {
        run("answer = 42")
        XCTAssertEqual(interpreter.evaluate(expression: "answer"), .ok(data: ["text/plain": "42"], metadata: [:]))
        guard case .error(_, let value, _) = interpreter.evaluate(expression: "nosuchname") else {
            return XCTFail("undefined name must be an error")
        }
        XCTAssertTrue(value.contains("not defined"))
        guard case .error = interpreter.evaluate(expression: "sleep 1") else {
            return XCTFail("user expressions must not run commands")
        }
    }

    func testIsComplete() {
        XCTAssertEqual(interpreter.isComplete(code: "print \"hi\""), .complete)
        XCTAssertEqual(interpreter.isComplete(code: ""), .complete)
        XCTAssertEqual(interpreter.isComplete(code: "x = [1,"), .incomplete(indent: "    "))
        XCTAssertEqual(interpreter.isComplete(code: "print 1 \\"), .incomplete(indent: "    "))
        XCTAssertEqual(interpreter.isComplete(code: "print 1]"), .invalid)
    }

    func testKernelInfo() {
        let info = interpreter.info
        XCTAssertEqual(info.languageName, "periscope")
        XCTAssertEqual(info.implementation, "periscope")
        XCTAssertEqual(info.mimetype, "text/x-periscope")
        XCTAssertEqual(info.fileExtension, ".scope")
        XCTAssertFalse(info.banner.isEmpty)
        XCTAssertFalse(info.helpLinks.isEmpty)
    }
}
