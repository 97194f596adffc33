// MARK: - Table

/// A table of text and numbers, optionally with a per-cell background intensity (e.g. a
/// probability shading its cell). Renders to text/plain, text/html and the vnd JSON.
public struct Table: Sendable, Equatable {
    /// Horizontal alignment of a column.
    public enum Alignment: String, Sendable, Equatable { case left, right, center }

    /// A column heading with its alignment.
    public struct Column: Sendable, Equatable {
        public var title: String
        public var alignment: Alignment
        /// In text/plain, long cells of this column wrap onto further lines instead of being cut
        /// (for text that is the result itself, such as a continuation).
        public var wraps: Bool
        public init(_ title: String, alignment: Alignment = .left, wraps: Bool = false) {
            self.title = title
            self.alignment = alignment
            self.wraps = wraps
        }
    }

    /// One cell's content.
    public enum Content: Sendable, Equatable {
        /// Plain text, shown as given (newlines made visible in text/plain).
        case text(String)
        /// A model token: whitespace made visible with `visibleToken(_:)`, monospace in HTML.
        case token(String)
        /// A number, written with `format`; the JSON carries the full value.
        case number(Double, NumberFormat)
        /// Nothing.
        case empty
    }

    /// A cell: content plus an optional background intensity in 0...1 on the table's scale.
    public struct Cell: Sendable, Equatable {
        public var content: Content
        public var intensity: Double?
        public init(_ content: Content, intensity: Double? = nil) {
            self.content = content
            self.intensity = intensity
        }
        public static func text(_ s: String, intensity: Double? = nil) -> Cell { Cell(.text(s), intensity: intensity) }
        public static func token(_ s: String, intensity: Double? = nil) -> Cell { Cell(.token(s), intensity: intensity) }
        public static func number(_ v: Double, _ f: NumberFormat = .general, intensity: Double? = nil) -> Cell {
            Cell(.number(v, f), intensity: intensity)
        }
        public static var empty: Cell { Cell(.empty) }

        /// The text shown in text/plain and HTML.
        public var displayText: String {
            switch content {
            case .text(let s): return s
            case .token(let s): return visibleToken(s)
            case .number(let v, let f): return f.format(v)
            case .empty: return ""
            }
        }

        /// The JSON value: a string for text and tokens (raw, not made visible), a number for numbers.
        var json: JSONOut {
            switch content {
            case .text(let s), .token(let s): return .string(s)
            case .number(let v, _): return .num(v)
            case .empty: return .null
            }
        }
    }

    public var title: String?
    public var columns: [Column]
    public var rows: [[Cell]]
    /// The scale used for cell intensities (sequential: 0 = white, 1 = deep blue).
    public var intensityScale: ColorScale
    /// An optional note printed under the table (e.g. "probabilities after the final norm").
    public var caption: String?
    /// The `kind` written in the JSON payload, so clients know what the rows mean.
    public var kind: String

    public init(title: String? = nil, columns: [Column], rows: [[Cell]],
                intensityScale: ColorScale = .sequential, caption: String? = nil, kind: String = "table") {
        self.title = title
        self.columns = columns
        self.rows = rows
        self.intensityScale = intensityScale
        self.caption = caption
        self.kind = kind
    }

    /// Rows padded or cut to the number of columns, so ragged input never breaks a layout.
    var normalizedRows: [[Cell]] {
        rows.map { row in
            row.count >= columns.count ? Array(row.prefix(columns.count))
                : row + Array(repeating: Cell.empty, count: columns.count - row.count)
        }
    }
}

// MARK: - Rendering

extension Table: MimeRenderable {
    /// text/plain, text/html and the vnd JSON.
    public var mimeBundle: MimeBundle {
        MimeBundle(data: [MimeBundle.plain: plainText, MimeBundle.html: html], json: json)
    }

    /// An aligned text table with a header rule; wide cells are cut at 60 columns, except in
    /// columns that wrap, whose cells continue on further lines.
    public var plainText: String {
        let rows = normalizedRows
        let maxCell = 60
        // Each row is one or more lines of cell texts.
        let texts: [[[String]]] = rows.map { row in
            let cells = row.enumerated().map { j, cell -> [String] in
                let text = singleLine(cell.displayText)
                return columns[j].wraps ? wrapText(text, width: maxCell) : [truncate(text, maxCell)]
            }
            let height = cells.map(\.count).max() ?? 1
            return (0..<height).map { k in cells.map { k < $0.count ? $0[k] : "" } }
        }
        let heads = columns.map { truncate(singleLine($0.title), maxCell) }
        var widths = heads.map(displayWidth)
        for row in texts { for line in row { for (j, t) in line.enumerated() { widths[j] = max(widths[j], displayWidth(t)) } } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { j, t in
                switch columns[j].alignment {
                case .left: return pad(t, widths[j])
                case .right: return pad(t, widths[j], right: true)
                case .center:
                    let gap = widths[j] - displayWidth(t)
                    return String(repeating: " ", count: gap / 2) + t + String(repeating: " ", count: gap - gap / 2)
                }
            }.joined(separator: "  ").replacingTrailingSpaces()
        }
        var out: [String] = []
        if let title { out.append(singleLine(title)) }
        out.append(line(heads))
        out.append(widths.map { String(repeating: "─", count: $0) }.joined(separator: "  "))
        out += texts.flatMap { $0.map(line) }
        if rows.isEmpty { out.append("(no rows)") }
        if let caption { out.append(singleLine(caption)) }
        return out.joined(separator: "\n")
    }

    /// A self-contained HTML table with inline styles.
    public var html: String {
        var h = "<div style=\"font-family:system-ui,sans-serif;font-size:13px\">"
        if let title { h += "<div style=\"font-weight:600;margin:2px 0 4px\">\(escapeHTML(title))</div>" }
        h += "<table style=\"border-collapse:collapse;font-size:13px\">"
        h += "<thead><tr>"
        for c in columns {
            h += "<th style=\"text-align:\(c.alignment.rawValue);padding:2px 8px;border-bottom:1px solid #888\">\(escapeHTML(c.title))</th>"
        }
        h += "</tr></thead><tbody>"
        for row in normalizedRows {
            h += "<tr>"
            for (j, cell) in row.enumerated() {
                var style = "text-align:\(columns[j].alignment.rawValue);padding:1px 8px"
                if case .token = cell.content { style += ";font-family:\(htmlMonoFont);white-space:pre" }
                if case .number = cell.content { style += ";font-variant-numeric:tabular-nums" }
                var tip = ""
                if let t = cell.intensity, t.isFinite {
                    let bg = intensityScale.color(at: t)
                    style += ";background:\(bg.hex)"
                    if bg.textColor != RGB(0, 0, 0) { style += ";color:#fff" }
                    tip = " title=\"\(JSONWriter.formatNumber(t))\""
                }
                h += "<td style=\"\(style)\"\(tip)>\(escapeHTML(cell.displayText))</td>"
            }
            h += "</tr>"
        }
        h += "</tbody></table>"
        if let caption { h += "<div style=\"color:#666;font-size:11px;margin-top:3px\">\(escapeHTML(caption))</div>" }
        h += "</div>"
        return h
    }

    /// `{"kind","title","shape","columns","alignments","rows","intensity"?}`; numbers stay numbers.
    public var json: JSONOut {
        let rows = normalizedRows
        var pairs: [(String, JSONOut)] = [
            ("kind", .string(kind)),
            ("title", title.map { .string($0) } ?? .null),
            ("shape", .array([.int(rows.count), .int(columns.count)])),
            ("columns", .strings(columns.map(\.title))),
            ("alignments", .strings(columns.map(\.alignment.rawValue))),
            ("rows", .array(rows.map { .array($0.map(\.json)) })),
        ]
        if rows.contains(where: { $0.contains { $0.intensity != nil } }) {
            pairs.append(("intensity", .array(rows.map { .array($0.map { .num($0.intensity) }) })))
        }
        if let caption { pairs.append(("caption", .string(caption))) }
        return .object(pairs)
    }
}

extension String {
    /// The string without trailing spaces (keeps text/plain tables free of ragged whitespace).
    func replacingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// `text` broken into lines of at most `width` characters, at spaces where it can be (a word
/// longer than a line is cut); never empty.
func wrapText(_ text: String, width: Int) -> [String] {
    guard text.count > width, width > 0 else { return [text] }
    var lines: [String] = []
    var rest = Substring(text)
    while rest.count > width {
        let window = rest.prefix(width + 1)
        if let space = window.lastIndex(of: " "), space > rest.startIndex {
            lines.append(String(rest[..<space]))
            rest = rest[rest.index(after: space)...]
        } else {
            let cut = rest.index(rest.startIndex, offsetBy: width)
            lines.append(String(rest[..<cut]))
            rest = rest[cut...]
        }
    }
    if !rest.isEmpty || lines.isEmpty { lines.append(String(rest)) }
    return lines
}
