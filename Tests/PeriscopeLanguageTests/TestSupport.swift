import XCTest
@testable import PeriscopeLanguage

/// A compact, location-free rendering of statements, so tests can state the expected tree in one line:
/// `x = lens(p layers 0..3)`, `value [1, 2]`, `help lens`.
func sketch(_ statements: [Statement]) -> [String] { statements.map(sketch) }

func sketch(_ statement: Statement) -> String {
    let prefix = statement.assignment.map { "\($0.name) = " } ?? ""
    switch statement.body {
    case .command(let head, _, let arguments):
        return prefix + head + "(" + arguments.map(sketch).joined(separator: " ") + ")"
    case .value(let value):
        return prefix + "value " + sketch(value)
    case .help(let topic, _):
        return prefix + "help " + topic
    }
}

func sketch(_ expr: Expr) -> String {
    switch expr.kind {
    case .string(let s): return "\"" + s + "\""
    case .int(let n): return "\(n)"
    case .float(let x): return "\(x)f"
    case .range(let a, let b): return "\(a)..\(b)"
    case .list(let items): return "[" + items.map(sketch).joined(separator: ", ") + "]"
    case .identifier(let name): return name
    }
}

/// Parses `source`, failing the test (and returning []) on an error.
func parsed(_ source: String, file: StaticString = #filePath, line: UInt = #line) -> [Statement] {
    switch parse(source) {
    case .success(let statements): return statements
    case .failure(let error):
        XCTFail("unexpected parse error: \(error)", file: file, line: line)
        return []
    }
}

/// The error `source` fails with, failing the test (and returning nil) if it parses.
func parseError(_ source: String, file: StaticString = #filePath, line: UInt = #line) -> ParseError? {
    switch parse(source) {
    case .success(let statements):
        XCTFail("expected a parse error, got \(sketch(statements))", file: file, line: line)
        return nil
    case .failure(let error): return error
    }
}

/// A location from line, column and offset, to keep expectations short.
func loc(_ line: Int, _ column: Int, _ offset: Int) -> SourceLocation {
    SourceLocation(line: line, column: column, offset: offset)
}
