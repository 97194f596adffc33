import XCTest
@testable import PeriscopeKernel
import PeriscopeLanguage

/// Checking a document without running it, through the kernel's own table and binder.
final class DocumentCheckTests: XCTestCase {
    func codes(_ source: String, table: CommandTable = .standard) -> [String] {
        DocumentCheck(source: source, table: table).problems.map(\.code)
    }

    func testAVerbAddedToTheTableIsKnownToTheChecker() {
        var table = CommandTable.standard
        XCTAssertEqual(codes("scan \"x\" depth 3", table: table), ["unknown-verb"])
        table.register(CommandSpec(name: "scan", group: .lenses, synopsis: "scan p [depth N]", description: "A test verb.",
                                   positionals: [Parameter("p", .prompt, required: true)],
                                   keywords: [Parameter("depth", .int)], example: "scan \"x\"", run: { _, _ in nil }))
        XCTAssertEqual(codes("scan \"x\" depth 3", table: table), [])
        let check = DocumentCheck(source: "scan \"x\" dept 3", table: table)
        XCTAssertEqual(check.problems.map(\.code), ["unknown-keyword"])
        XCTAssertTrue(check.problems[0].message.contains("did you mean `depth`"), check.problems[0].message)
        XCTAssertEqual(codes("scan \"x\" depth \"deep\"", table: table), ["wrong-kind"])
    }

    func testVerbResultsFitAnyKindButLiteralsAreChecked() {
        // `p` holds a verb's result: its kind is unknown until run, so it is not flagged.
        XCTAssertEqual(codes("p = prompt \"x\"\nlens p top p"), [])
        // A literal's kind is known.
        XCTAssertEqual(codes("k = \"five\"\nlens \"x\" top k"), ["wrong-kind"])
        XCTAssertEqual(codes("k = 5\nlens \"x\" top k"), [])
    }

    func testNamesRulesAndHelpTopics() {
        XCTAssertEqual(codes("lens = 3"), ["reserved-name"], "a verb name cannot be a variable")
        XCTAssertEqual(codes("?lense"), ["unknown-verb"])
        XCTAssertEqual(codes("x = 1\n?x"), [])
        XCTAssertEqual(codes("y"), ["undefined-variable"])
        XCTAssertEqual(codes("show y\ny = 1"), ["used-before-assignment"])
        // A failing right-hand side still defines the name: its uses are not flagged twice.
        XCTAssertEqual(codes("z = lens\nshow z"), ["missing-argument"])
    }

    func testSessionBeforeAndDefinitions() {
        let check = DocumentCheck(source: "a = 1\nshow a\na = 2\nshow a\n")
        XCTAssertEqual(check.session(before: 6).variableNames, ["a"])
        XCTAssertEqual(check.session(before: 0).variableNames, [])
        XCTAssertEqual(check.definition(of: "a", at: 11)?.nameRange.start.line, 1)
        XCTAssertEqual(check.definition(of: "a", at: 25)?.nameRange.start.line, 3)
    }
}
