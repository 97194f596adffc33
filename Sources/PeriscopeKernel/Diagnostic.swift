import PeriscopeLanguage

/// An error placed in the cell: `line L, column C: message`, the source line, and a caret
/// (or a run of carets under the whole span when it stays on that line).
struct Diagnostic {
    var message: String
    var location: SourceLocation
    var range: SourceRange?

    func traceback(in source: String) -> [String] {
        var lines = ["line \(location.line), column \(location.column): \(message)"]
        let sourceLines = source.split(separator: "\n", omittingEmptySubsequences: false)
        guard location.line >= 1, location.line <= sourceLines.count else { return lines }
        let text = String(sourceLines[location.line - 1]).replacingTabs()
        var width = 1
        if let range, range.end.line == range.start.line, range.end.offset > range.start.offset {
            width = range.end.offset - range.start.offset
        }
        let indent = max(location.column - 1, 0)
        lines.append("  " + text)
        lines.append("  " + String(repeating: " ", count: indent) + String(repeating: "^", count: width))
        return lines
    }
}

extension String {
    /// Tabs as single spaces so the caret lines up with columns counted in scalars.
    fileprivate func replacingTabs() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\t" ? " " : $0 }))
    }
}

// MARK: - Syntax errors in multi-line statements

/// How many whole lines before `line` form complete statements on their own: the statement
/// that fails at `line` starts on the line after them.
func completeLineCount(of source: String, before line: Int) -> Int {
    let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
    var count = min(line - 1, lines.count)
    while count > 0 {
        if completeness(of: lines[0..<count].joined(separator: "\n")) == .complete { return count }
        count -= 1
    }
    return 0
}

extension Diagnostic {
    /// The traceback of a syntax error; when the failing statement began on an earlier line
    /// (an open `[`, a `\`), its first lines follow, so the cause is in view.
    func syntaxTraceback(in source: String) -> [String] {
        var lines = traceback(in: source)
        let start = completeLineCount(of: source, before: location.line) + 1
        guard start < location.line else { return lines }
        let sourceLines = source.split(separator: "\n", omittingEmptySubsequences: false)
        lines.append("in the statement that starts on line \(start):")
        for number in start..<min(location.line, start + 5) where number <= sourceLines.count {
            lines.append("  " + String(sourceLines[number - 1]))
        }
        return lines
    }
}
