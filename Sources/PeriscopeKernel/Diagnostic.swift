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
