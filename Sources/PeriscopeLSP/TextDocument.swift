import PeriscopeLanguage

/// How a position's `character` counts: UTF-16 code units (LSP's default) or Unicode scalars
/// (`utf-32`, the unit the parser counts in), as agreed at initialisation.
public enum PositionEncoding: String, Sendable {
    case utf16 = "utf-16"
    case utf32 = "utf-32"
}

/// An LSP position: 0-based line and character.
public struct Position: Sendable, Equatable {
    public var line: Int
    public var character: Int
    public init(line: Int, character: Int) { self.line = line; self.character = character }
}

/// An open document: its text as Unicode scalars, with the line starts to turn LSP positions into
/// the parser's scalar offsets and back.
public struct TextDocument: Sendable {
    public let uri: String
    public var version: Int
    public private(set) var scalars: [Unicode.Scalar]
    /// Offsets where each line starts; lines end at `\n`.
    private var lineStarts: [Int] = [0]

    public init(uri: String, version: Int, text: String) {
        self.uri = uri
        self.version = version
        self.scalars = Array(text.unicodeScalars)
        indexLines()
    }

    public var text: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    private mutating func indexLines() {
        lineStarts = [0]
        for (i, c) in scalars.enumerated() where c == "\n" { lineStarts.append(i + 1) }
    }

    /// The scalar offset of `position`, clamped into the document: a line past the end is the end,
    /// a character past the line's end is the line's end.
    public func offset(of position: Position, encoding: PositionEncoding) -> Int {
        guard position.line >= 0 else { return 0 }
        guard position.line < lineStarts.count else { return scalars.count }
        let lineStart = lineStarts[position.line]
        let lineEnd = position.line + 1 < lineStarts.count ? lineStarts[position.line + 1] - 1 : scalars.count
        var units = 0
        var offset = lineStart
        while offset < lineEnd, units < position.character {
            units += encoding == .utf16 ? scalars[offset].utf16.count : 1
            offset += 1
        }
        return offset
    }

    /// The LSP position of a scalar offset.
    public func position(of offset: Int, encoding: PositionEncoding) -> Position {
        let offset = min(max(offset, 0), scalars.count)
        // The last line start at or before the offset.
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        let lineStart = lineStarts[low]
        let character = encoding == .utf16
            ? scalars[lineStart..<offset].reduce(0) { $0 + $1.utf16.count }
            : offset - lineStart
        return Position(line: low, character: character)
    }

    /// Replaces the scalars in `range` (offsets) with `text`.
    public mutating func replace(_ range: Range<Int>, with text: String) {
        let lower = min(max(range.lowerBound, 0), scalars.count)
        let upper = min(max(range.upperBound, lower), scalars.count)
        scalars.replaceSubrange(lower..<upper, with: Array(text.unicodeScalars))
        indexLines()
    }

    /// Replaces the whole text.
    public mutating func setText(_ text: String) {
        scalars = Array(text.unicodeScalars)
        indexLines()
    }

    /// The text of one 0-based line, without its newline.
    public func line(_ number: Int) -> String {
        guard number >= 0, number < lineStarts.count else { return "" }
        let end = number + 1 < lineStarts.count ? lineStarts[number + 1] - 1 : scalars.count
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[lineStarts[number]..<end])
        return String(view)
    }
}
