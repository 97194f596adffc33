import XCTest
@testable import PeriscopeLanguage

/// Parsing a whole document for an editor: every good statement and one error per bad one.
final class DocumentParsingTests: XCTestCase {
    func testStatementsAroundErrorsKeepTheirPositions() {
        let source = "a = 1\nb = [1,, 2]\nlens a\nc = 1.2.3\nd = \"x\"\n"
        let (statements, errors) = parseDocument(source)
        XCTAssertEqual(statements.map { $0.assignment?.name ?? "" }, ["a", "", "d"])
        XCTAssertEqual(errors.map(\.location.description), ["2:8", "4:5"])
        // The statements after an error are placed in the whole document, not in the rest of it.
        XCTAssertEqual(statements[1].range.start, SourceLocation(line: 3, column: 1, offset: 18))
        XCTAssertEqual(statements[2].range.start, SourceLocation(line: 5, column: 1, offset: 35))
        guard case .command(_, _, let arguments) = statements[1].body else { return XCTFail("\(statements[1])") }
        XCTAssertEqual(arguments.first?.range.start, SourceLocation(line: 3, column: 6, offset: 23))
    }

    func testAMultiLineStatementIsSkippedWhole() {
        // The error is inside a list that goes on for two more lines; parsing resumes after it.
        let source = "x = [1,\n 2 3,\n 4]\ny = 2\n"
        let (statements, errors) = parseDocument(source)
        XCTAssertEqual(errors.count, 1)
        XCTAssertEqual(errors.first?.location.line, 2)
        XCTAssertEqual(statements.map { $0.assignment?.name }, ["y"])
    }

    func testAnOpenStringResumesAfterTheNextBlankLine() {
        let source = "x = \"open\nmore\n\ny = 2\nlens ]\n"
        let (statements, errors) = parseDocument(source)
        XCTAssertEqual(statements.map { $0.assignment?.name }, ["y"])
        XCTAssertEqual(errors.map(\.location.line), [1, 5])
    }

    func testSyntaxErrorRanges() {
        let source = "lens p top 1.2.3\nx = \n"
        let (_, errors) = parseDocument(source)
        XCTAssertEqual(errors.count, 2)
        let first = syntaxErrorRange(errors[0], in: source)
        XCTAssertEqual(first.start.offset, 11)
        XCTAssertEqual(first.end.offset, 16, "the whole malformed number")
        let second = syntaxErrorRange(errors[1], in: source)
        XCTAssertEqual(second.end.offset, second.start.offset + 1)
    }
}
