// MARK: - Heatmap

/// A matrix of values drawn as coloured cells, rows top to bottom and columns left to right
/// (e.g. layers × positions for a logit lens, query × key for attention). Each cell may carry a
/// short text (e.g. the top-1 token) written inside it when it fits.
///
/// Labels and cell text are shown as given; pass tokens through `visibleToken(_:)` first.
public struct Heatmap: Sendable, Equatable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var rowLabels: [String]
    public var columnLabels: [String]
    /// values[row][column]; non-finite values draw grey and become `null` in JSON.
    public var values: [[Double]]
    /// Optional text per cell, same shape as `values`.
    public var cellText: [[String]]?
    public var scale: ColorScale
    public var range: ValueRange
    /// What the colour means (legend caption), e.g. "p(top-1)".
    public var valueLabel: String?
    /// How values are written in text, tooltips and the legend.
    public var valueFormat: NumberFormat
    /// Write each value (in `valueFormat`) in its cell when there is no `cellText`, e.g. for a
    /// small cosine-similarity matrix.
    public var showValues: Bool
    /// The `kind` written in the JSON payload.
    public var kind: String
    /// Optional extra lines per cell for its tooltip (e.g. a logit-lens cell's top-K tokens).
    public var cellDetails: [[String]]?

    public init(title: String, xLabel: String, yLabel: String, rowLabels: [String], columnLabels: [String],
                values: [[Double]], cellText: [[String]]? = nil, scale: ColorScale = .sequential,
                range: ValueRange = .auto, valueLabel: String? = nil, valueFormat: NumberFormat = .general,
                showValues: Bool = false, kind: String = "heatmap", cellDetails: [[String]]? = nil) {
        self.cellDetails = cellDetails
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.values = values
        self.cellText = cellText
        self.scale = scale
        self.range = range
        self.valueLabel = valueLabel
        self.valueFormat = valueFormat
        self.showValues = showValues
        self.kind = kind
    }

    /// The same, from a Float matrix.
    public init(title: String, xLabel: String, yLabel: String, rowLabels: [String], columnLabels: [String],
                values: [[Float]], cellText: [[String]]? = nil, scale: ColorScale = .sequential,
                range: ValueRange = .auto, valueLabel: String? = nil, valueFormat: NumberFormat = .general,
                showValues: Bool = false, kind: String = "heatmap") {
        self.init(title: title, xLabel: xLabel, yLabel: yLabel, rowLabels: rowLabels, columnLabels: columnLabels,
                  values: values.map { $0.map(Double.init) }, cellText: cellText, scale: scale, range: range,
                  valueLabel: valueLabel, valueFormat: valueFormat, showValues: showValues, kind: kind)
    }

    // MARK: Shape

    /// Number of rows drawn: the most rows any input gives (missing values draw grey).
    public var rowCount: Int { max(values.count, rowLabels.count) }
    /// Number of columns drawn.
    public var columnCount: Int { max(values.map(\.count).max() ?? 0, columnLabels.count) }

    func value(_ i: Int, _ j: Int) -> Double {
        guard i < values.count, j < values[i].count else { return .nan }
        return values[i][j]
    }

    /// The given cell text, if any (what the JSON carries).
    func text(_ i: Int, _ j: Int) -> String? {
        guard let cellText, i < cellText.count, j < cellText[i].count else { return nil }
        return cellText[i][j]
    }

    /// The text drawn in a cell: the given text, or the value when `showValues` is set.
    func drawnText(_ i: Int, _ j: Int) -> String? {
        if cellText != nil { return text(i, j) }
        return showValues ? valueFormat.format(value(i, j)) : nil
    }

    /// Whether the SVG writes text in its cells: not past `svgTextCellLimit` cells, where the
    /// text would make the image thousands of pixels wide and most of its bytes; the vnd JSON
    /// still carries every cell's text.
    var hasDrawnText: Bool { (cellText != nil || showValues) && rowCount * columnCount <= Heatmap.svgTextCellLimit }

    /// The most cells whose text the SVG draws (e.g. 30 layers × 100 positions).
    public static let svgTextCellLimit = 3000

    /// A cell's tooltip: where it is (unless the table's headers show it), its text and value,
    /// then its details.
    func tooltip(_ i: Int, _ j: Int, located: Bool = true) -> String {
        var t = located ? "\(singleLine(rowLabel(i))), \(singleLine(columnLabel(j))): " : ""
        if located, let text = text(i, j), !text.isEmpty { t += text + " " }
        t += valueFormat.format(value(i, j))
        if let cellDetails, i < cellDetails.count, j < cellDetails[i].count, !cellDetails[i][j].isEmpty { t += "\n" + cellDetails[i][j] }
        return t
    }

    /// The most cells that get a tooltip each in the SVG; past it each column gets one.
    public static let svgTooltipCellLimit = 3000

    func rowLabel(_ i: Int) -> String { i < rowLabels.count ? rowLabels[i] : String(i) }
    func columnLabel(_ j: Int) -> String { j < columnLabels.count ? columnLabels[j] : String(j) }

    /// The colour mapping resolved over this heatmap's values.
    public var mapper: ColorMapper { ColorMapper(scale: scale, range: range, values: values.flatMap { $0 }) }
}

// MARK: - Rendering

extension Heatmap: MimeRenderable {
    /// text/plain (grid summary), text/html (coloured table), image/svg+xml and the vnd JSON.
    ///
    /// Above `htmlCellLimit` cells the HTML table is left out (front ends then show the SVG), so
    /// that a long prompt's attention pattern stays well under 1 MB.
    public var mimeBundle: MimeBundle {
        var data = [MimeBundle.plain: plainText, MimeBundle.svg: svg]
        if rowCount * columnCount <= Heatmap.htmlCellLimit { data[MimeBundle.html] = html }
        return MimeBundle(data: data, json: json)
    }

    /// The most cells drawn as an HTML table (about 50 bytes each).
    public static let htmlCellLimit = 2500

    /// The largest finite value and where it is.
    var maximum: (value: Double, row: Int, column: Int)? { extreme(>) }

    /// The smallest finite value and where it is.
    var minimum: (value: Double, row: Int, column: Int)? { extreme(<) }

    private func extreme(_ better: (Double, Double) -> Bool) -> (value: Double, row: Int, column: Int)? {
        var best: (Double, Int, Int)?
        for i in 0..<rowCount {
            for j in 0..<columnCount {
                let v = value(i, j)
                if v.isFinite, best.map({ better(v, $0.0) }) ?? true { best = (v, i, j) }
            }
        }
        return best
    }

    /// A text grid (cell text or values, cut to 8 characters each) and a one-line summary of the
    /// scale and the maximum. A grid wider than a line wraps into blocks of columns; past 60 rows
    /// or columns it keeps the last ones (a prompt's end is where its prediction is made) and says
    /// what it left out.
    public var plainText: String {
        let maxRows = 60, maxCols = 60, cellWidth = 8, lineWidth = 150
        let firstRow = max(0, rowCount - maxRows), firstColumn = max(0, columnCount - maxCols)
        let rowIndices = Array(firstRow..<rowCount), columnIndices = Array(firstColumn..<columnCount)
        var out = [title]
        let rowHead = "\(yLabel) \\ \(xLabel)"
        let labelWidth = min(24, max(displayWidth(rowHead), rowIndices.map { displayWidth(singleLine(rowLabel($0))) }.max() ?? 0))
        let grid: [[String]] = rowIndices.map { i in
            columnIndices.map { j in truncate(singleLine(drawnText(i, j) ?? valueFormat.format(value(i, j))), cellWidth) }
        }
        let heads = columnIndices.map { truncate(singleLine(columnLabel($0)), cellWidth) }
        var widths = heads.map(displayWidth)
        for row in grid { for (k, t) in row.enumerated() { widths[k] = max(widths[k], displayWidth(t)) } }
        // Blocks of columns that fit the line beside the row labels.
        var blocks: [Range<Int>] = []
        var start = 0, used = labelWidth
        for k in widths.indices {
            if k > start, used + 1 + widths[k] > lineWidth {
                blocks.append(start..<k)
                start = k; used = labelWidth
            }
            used += 1 + widths[k]
        }
        if start < widths.count || blocks.isEmpty { blocks.append(start..<widths.count) }
        func line(_ label: String, _ cells: [String], _ block: Range<Int>) -> String {
            ([pad(truncate(singleLine(label), labelWidth), labelWidth)] + block.map { pad(cells[$0], widths[$0]) })
                .joined(separator: " ").replacingTrailingSpaces()
        }
        for (b, block) in blocks.enumerated() {
            if b > 0 { out.append("") }
            out.append(line(truncate(rowHead, labelWidth), heads, block))
            for (r, i) in rowIndices.enumerated() { out.append(line(rowLabel(i), grid[r], block)) }
        }
        var leftOut: [String] = []
        if firstRow > 0 { leftOut.append("rows \(singleLine(rowLabel(0)))…\(singleLine(rowLabel(firstRow - 1))) (the first \(firstRow) of \(rowCount))") }
        if firstColumn > 0 {
            leftOut.append("columns \(singleLine(columnLabel(0)))…\(singleLine(columnLabel(firstColumn - 1))) (the first \(firstColumn) of \(columnCount))")
        }
        if !leftOut.isEmpty {
            out.append("(left out: " + leftOut.joined(separator: " and ") + "; the SVG and the JSON hold every cell)")
        }
        let m = mapper
        var summary = "\(rowCount)×\(columnCount); colour: \(valueLabel ?? "value") \(valueFormat.format(m.low))…\(valueFormat.format(m.high)) (\(scale.rawValue))"
        if let best = maximum {
            summary += "; max \(valueFormat.format(best.value)) at \(singleLine(rowLabel(best.row))), \(singleLine(columnLabel(best.column)))"
        }
        if scale == .diverging, let worst = minimum {
            summary += "; min \(valueFormat.format(worst.value)) at \(singleLine(rowLabel(worst.row))), \(singleLine(columnLabel(worst.column)))"
        }
        out.append(summary)
        return out.joined(separator: "\n")
    }

    /// A self-contained HTML table with coloured cells, a tooltip with each value and a legend.
    public var html: String {
        let m = mapper
        let rows = rowCount, cols = columnCount
        var h = "<div style=\"font-family:system-ui,sans-serif;font-size:12px;overflow-x:auto\">"
        h += "<div style=\"font-weight:600;font-size:13px;margin:2px 0 4px\">\(escapeHTML(title))</div>"
        // Cell styles that every cell shares live on the table and are inherited (keeps 30×40 small).
        h += "<table cellspacing=\"1\" cellpadding=\"2\" style=\"border-collapse:separate;font-size:11px;font-family:\(htmlMonoFont);white-space:pre;text-align:center\">"
        // Header: corner naming both axes, then the column labels.
        h += "<tr><th style=\"text-align:right;color:#555;font-weight:normal;font-family:system-ui,sans-serif\">\(escapeHTML(yLabel)) ↓ \\ \(escapeHTML(xLabel)) →</th>"
        for j in 0..<cols {
            h += "<th style=\"font-weight:normal;color:#333\">\(escapeHTML(columnLabel(j)))</th>"
        }
        h += "</tr>"
        for i in 0..<rows {
            h += "<tr><th style=\"text-align:right;font-weight:normal;color:#333\">\(escapeHTML(rowLabel(i)))</th>"
            for j in 0..<cols {
                let v = value(i, j)
                let bg = m.color(v)
                var style = "background:\(bg.hex)"
                if bg.textColor != RGB(0, 0, 0) { style += ";color:#fff" }
                let content = drawnText(i, j).map(escapeHTML) ?? ""
                if content.isEmpty { style += ";min-width:14px" }
                h += "<td style=\"\(style)\" title=\"\(escapeHTML(tooltip(i, j, located: false)))\">\(content)</td>"
            }
            h += "</tr>"
        }
        h += "</table>"
        h += htmlLegend(m, label: valueLabel, format: valueFormat)
        h += "</div>"
        return h
    }

    /// The vnd payload: everything needed to read the result without HTML.
    public var json: JSONOut {
        let m = mapper
        var pairs: [(String, JSONOut)] = [
            ("kind", .string(kind)),
            ("title", .string(title)),
            ("x_label", .string(xLabel)),
            ("y_label", .string(yLabel)),
            ("shape", .array([.int(rowCount), .int(columnCount)])),
            ("row_labels", .strings((0..<rowCount).map(rowLabel))),
            ("column_labels", .strings((0..<columnCount).map(columnLabel))),
            ("values", .array((0..<rowCount).map { i in .array((0..<columnCount).map { .num(value(i, $0)) }) })),
        ]
        if cellText != nil {
            pairs.append(("cell_text", .array((0..<rowCount).map { i in .strings((0..<columnCount).map { text(i, $0) ?? "" }) })))
        }
        pairs.append(("scale", .string(scale.rawValue)))
        pairs.append(("range", .array([.num(m.low), .num(m.high)])))
        pairs.append(("value_label", valueLabel.map { .string($0) } ?? .null))
        return .object(pairs)
    }

    // MARK: SVG

    /// Cell size for the SVG: wide enough for the cell text when there is any.
    var svgCellSize: (w: Double, h: Double) {
        let cols = Double(max(1, columnCount)), rows = Double(max(1, rowCount))
        if hasDrawnText {
            var longest = 0
            for i in 0..<rowCount { for j in 0..<columnCount { longest = max(longest, min(8, displayWidth(drawnText(i, j) ?? ""))) } }
            // Wide enough for up to 8 characters, but keep the whole grid under ~1800 px.
            let wanted = max(24, min(56, Double(longest) * 6 + 6))
            return (min(wanted, max(24, 1800 / cols)), 16)
        }
        let w = max(6, min(36, 720 / cols))
        let h = max(6, min(24, 480 / rows))
        return (w, h)
    }

    /// A self-contained SVG: title, cells, row/column labels, axis labels and a colour legend.
    public var svg: String {
        let m = mapper
        let rows = rowCount, cols = columnCount
        let (cw, ch) = svgCellSize
        let labelSize = 10.0
        // Show every k-th label when cells are smaller than the text height.
        let rowStep = max(1, Int((labelSize + 1) / ch.rounded(.down) + 0.999))
        let colStep = max(1, Int((labelSize + 1) / cw.rounded(.down) + 0.999))
        let rowLabelTexts = (0..<rows).map { truncate(singleLine(rowLabel($0)), 20) }
        let colLabelTexts = (0..<cols).map { truncate(singleLine(columnLabel($0)), 14) }
        let rowLabelW = (rowLabelTexts.map { textWidth($0, size: labelSize) }.max() ?? 0) + 6
        let colLabelH = (colLabelTexts.map { textWidth($0, size: labelSize) }.max() ?? 0) * 0.72 + 10
        let left = 22 + rowLabelW, top = 30.0
        let gridW = Double(cols) * cw, gridH = Double(rows) * ch
        let legendX = left + gridW + 18
        let width = max(legendX + 70, textWidth(title, size: 13) + 20)
        let height = max(top + gridH + colLabelH + 20, top + 110)
        var doc = SVGDocument(width: width, height: height)
        doc.text(title, x: 10, y: 18, size: 13, weight: "bold")

        // Cells, one path per (quantised) colour keeps the document small.
        doc.body += gridPaths(rows: rows, columns: cols, x0: left, y0: top, cellWidth: cw, cellHeight: ch) {
            m.quantizedColor(value($0, $1)).hex
        }

        // Cell text where it fits, black or white by background.
        if hasDrawnText {
            var dark = "", light = ""
            let fit = Int((cw - 3) / 6)
            for i in 0..<rows {
                for j in 0..<cols {
                    guard let t = drawnText(i, j), !t.isEmpty, fit >= 2 else { continue }
                    let shown = escapeXML(truncate(singleLine(t), fit))
                    let el = "<text x=\"\(f(left + (Double(j) + 0.5) * cw))\" y=\"\(f(top + Double(i) * ch + ch / 2 + 3.5))\">\(shown)</text>"
                    if m.color(value(i, j)).textColor == RGB(0, 0, 0) { dark += el } else { light += el }
                }
            }
            let attrs = "font-family=\"monospace\" font-size=\"10\" text-anchor=\"middle\""
            if !dark.isEmpty { doc.body += "<g \(attrs) fill=\"#000\">\(dark)</g>" }
            if !light.isEmpty { doc.body += "<g \(attrs) fill=\"#fff\">\(light)</g>" }
        }
        doc.rect(left, top, gridW, gridH, fill: "none", stroke: "#bbb")
        doc.body += tooltipOverlay(x0: left, y0: top, cellWidth: cw, cellHeight: ch)

        // Row labels (right-aligned at the grid's left) and column labels (slanted, below).
        var labels = "<g font-size=\"10\" fill=\"#333\">"
        for i in stride(from: 0, to: rows, by: rowStep) {
            labels += "<text x=\"\(f(left - 4))\" y=\"\(f(top + (Double(i) + 0.5) * ch + 3.5))\" text-anchor=\"end\">\(escapeXML(rowLabelTexts[i]))</text>"
        }
        for j in stride(from: 0, to: cols, by: colStep) {
            let x = left + (Double(j) + 0.5) * cw, y = top + gridH + 10
            labels += "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"end\" transform=\"rotate(-45 \(f(x)) \(f(y)))\">\(escapeXML(colLabelTexts[j]))</text>"
        }
        doc.body += labels + "</g>"

        // Axis labels.
        doc.text(xLabel, x: left + gridW / 2, y: height - 6, anchor: "middle", weight: "bold")
        doc.text(yLabel, x: 12, y: top + gridH / 2, anchor: "middle", weight: "bold", rotate: -90)

        doc.colorLegend(mapper: m, x: legendX, y: top + 20, height: min(160, max(60, gridH - 20)),
                        label: valueLabel, format: valueFormat)
        return doc.text
    }
}

extension Heatmap {
    /// Transparent rectangles over the cells carrying native `<title>` tooltips: one per cell up to
    /// `svgTooltipCellLimit` cells, else one per column listing its cells (so a lens over hundreds
    /// of positions stays well under a megabyte).
    func tooltipOverlay(x0: Double, y0: Double, cellWidth cw: Double, cellHeight ch: Double) -> String {
        var g = "<g fill=\"#000\" fill-opacity=\"0\">"
        if rowCount * columnCount <= Heatmap.svgTooltipCellLimit {
            for i in 0..<rowCount {
                for j in 0..<columnCount {
                    g += "<path d=\"M\(f(x0 + Double(j) * cw)) \(f(y0 + Double(i) * ch))h\(f(cw))v\(f(ch))h-\(f(cw))z\">"
                        + "<title>\(escapeXML(tooltip(i, j)))</title></path>"
                }
            }
        } else {
            for j in 0..<columnCount {
                let lines = (0..<rowCount).map { i -> String in
                    let text = self.text(i, j).map { $0.isEmpty ? "" : $0 + " " } ?? ""
                    return "\(singleLine(rowLabel(i))) \(text)\(valueFormat.format(value(i, j)))"
                }
                g += "<path d=\"M\(f(x0 + Double(j) * cw)) \(f(y0))h\(f(cw))v\(f(Double(rowCount) * ch))h-\(f(cw))z\">"
                    + "<title>\(escapeXML(singleLine(columnLabel(j)) + " — " + yLabel + "\n" + lines.joined(separator: "\n")))</title></path>"
            }
        }
        return g + "</g>"
    }
}

/// A horizontal gradient bar with the low and high values, for HTML outputs.
func htmlLegend(_ m: ColorMapper, label: String?, format: NumberFormat) -> String {
    let stops = (0...4).map { m.scale.color(at: Double($0) / 4).hex }.joined(separator: ",")
    var h = "<div style=\"display:flex;align-items:center;gap:6px;margin-top:4px;font-size:11px;color:#444\">"
    if let label { h += "<span>\(escapeHTML(label))</span>" }
    h += "<span>\(escapeHTML(format.format(m.low)))</span>"
    h += "<span style=\"display:inline-block;width:120px;height:10px;border:1px solid #999;background:linear-gradient(to right,\(stops))\"></span>"
    h += "<span>\(escapeHTML(format.format(m.high)))</span></div>"
    return h
}
