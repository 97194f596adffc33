// MARK: - Heatmap grid

/// Several small heatmaps in a grid sharing one colour scale, e.g. the attention pattern of every
/// head in a layer. Panels draw without cell text; each keeps its own title and labels.
public struct HeatmapGrid: Sendable, Equatable {
    public var title: String
    public var panels: [Heatmap]
    /// Panels per row; `nil` chooses about a square (at most 6 across).
    public var columns: Int?
    public var scale: ColorScale
    public var range: ValueRange
    public var valueLabel: String?
    public var valueFormat: NumberFormat
    public var kind: String

    public init(title: String, panels: [Heatmap], columns: Int? = nil, scale: ColorScale = .sequential,
                range: ValueRange = .auto, valueLabel: String? = nil, valueFormat: NumberFormat = .general,
                kind: String = "heatmap_grid") {
        self.title = title
        self.panels = panels
        self.columns = columns
        self.scale = scale
        self.range = range
        self.valueLabel = valueLabel
        self.valueFormat = valueFormat
        self.kind = kind
    }

    /// One colour mapping over every panel's values.
    public var mapper: ColorMapper {
        ColorMapper(scale: scale, range: range, values: panels.flatMap { $0.values.flatMap { $0 } })
    }

    var gridColumns: Int {
        if let columns, columns > 0 { return columns }
        var c = 1
        while c * c < panels.count { c += 1 }
        return max(1, min(6, c))
    }
}

// MARK: - Rendering

extension HeatmapGrid: MimeRenderable {
    /// text/plain (one summary line per panel), text/html (the SVG inline), SVG and the vnd JSON.
    public var mimeBundle: MimeBundle {
        let svg = self.svg
        return MimeBundle(data: [
            MimeBundle.plain: plainText,
            MimeBundle.html: "<div style=\"overflow-x:auto\">\(svg)</div>",
            MimeBundle.svg: svg,
        ], json: json)
    }

    /// The title, then per panel its shape and where its maximum is.
    public var plainText: String {
        let m = mapper
        var out = [title, "\(panels.count) panels; colour: \(valueLabel ?? "value") \(valueFormat.format(m.low))…\(valueFormat.format(m.high)) (\(scale.rawValue))"]
        let width = min(24, panels.map { displayWidth(singleLine($0.title)) }.max() ?? 0)
        for p in panels {
            var line = pad(truncate(singleLine(p.title), width), width) + "  \(p.rowCount)×\(p.columnCount)"
            if let best = p.maximum {
                line += "  max \(valueFormat.format(best.value)) at \(singleLine(p.rowLabel(best.row))), \(singleLine(p.columnLabel(best.column)))"
            }
            out.append(line)
        }
        return out.joined(separator: "\n")
    }

    /// `{"kind","title","panels":[heatmap payloads],"scale","range"}`.
    public var json: JSONOut {
        let m = mapper
        return .object([
            ("kind", .string(kind)),
            ("title", .string(title)),
            ("shape", .array([.int(panels.count)])),
            ("panels", .array(panels.map { $0.json })),
            ("scale", .string(scale.rawValue)),
            ("range", .array([.num(m.low), .num(m.high)])),
            ("value_label", valueLabel.map { .string($0) } ?? .null),
        ])
    }

    /// Small multiples: row labels on the first column, column labels under the bottom panel of
    /// each column, one shared legend.
    public var svg: String {
        let m = mapper
        let cols = gridColumns
        let rowsOfPanels = (panels.count + cols - 1) / cols
        let maxRows = panels.map(\.rowCount).max() ?? 1, maxCols = panels.map(\.columnCount).max() ?? 1
        let cell = max(2, min(14, 160 / Double(max(maxRows, maxCols, 1))))
        let panelW = Double(maxCols) * cell, panelH = Double(maxRows) * cell
        let showLabels = cell >= 8
        let labelSize = 9.0
        let rowLabelW = showLabels ? (panels.flatMap { p in (0..<p.rowCount).map { textWidth(truncate(singleLine(p.rowLabel($0)), 12), size: labelSize) } }.max() ?? 0) + 6 : 0
        let colLabelH = showLabels ? (panels.flatMap { p in (0..<p.columnCount).map { textWidth(truncate(singleLine(p.columnLabel($0)), 12), size: labelSize) } }.max() ?? 0) * 0.72 + 8 : 4
        let gapX = 14.0, gapY = 10.0, titleH = 16.0
        let left = 26 + rowLabelW, top = 30.0
        // Column labels are drawn only under the last panel of each column, so only the bottom
        // row of panels reserves room for them.
        let slotW = panelW + gapX, slotH = titleH + panelH + gapY
        let legendX = left + Double(cols) * slotW + 6
        let width = max(legendX + 70, textWidth(title, size: 13) + 20)
        let height = max(top + Double(rowsOfPanels) * slotH + colLabelH + 18, top + 140)
        var doc = SVGDocument(width: width, height: height)
        doc.text(title, x: 10, y: 18, size: 13, weight: "bold")

        var cells = ""
        var labels = ""
        for (k, p) in panels.enumerated() {
            let r = k / cols, c = k % cols
            let x0 = left + Double(c) * slotW, y0 = top + Double(r) * slotH + titleH
            labels += "<text x=\"\(f(x0 + panelW / 2))\" y=\"\(f(y0 - 4))\" text-anchor=\"middle\" font-size=\"10\" font-weight=\"bold\">\(escapeXML(truncate(singleLine(p.title), Int(panelW / 6) + 4)))</text>"
            cells += gridPaths(rows: p.rowCount, columns: p.columnCount, x0: x0, y0: y0, cellWidth: cell, cellHeight: cell) {
                m.quantizedColor(p.value($0, $1)).hex
            }
            guard showLabels else { continue }
            if c == 0 {
                for i in 0..<p.rowCount {
                    labels += "<text x=\"\(f(x0 - 3))\" y=\"\(f(y0 + (Double(i) + 0.5) * cell + 3))\" text-anchor=\"end\">\(escapeXML(truncate(singleLine(p.rowLabel(i)), 12)))</text>"
                }
            }
            // Column labels only where no panel sits below.
            if k + cols >= panels.count {
                for j in 0..<p.columnCount {
                    let x = x0 + (Double(j) + 0.5) * cell, y = y0 + panelH + 8
                    labels += "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"end\" transform=\"rotate(-45 \(f(x)) \(f(y)))\">\(escapeXML(truncate(singleLine(p.columnLabel(j)), 12)))</text>"
                }
            }
        }
        doc.body += cells
        doc.body += "<g font-size=\"\(f(labelSize))\" fill=\"#333\">\(labels)</g>"
        // Axis names from the first panel (all panels share them, e.g. query × key).
        if let first = panels.first {
            let gridH = Double(rowsOfPanels) * slotH
            doc.text(first.yLabel, x: 12, y: top + gridH / 2, anchor: "middle", weight: "bold", rotate: -90)
            doc.text(first.xLabel, x: left + (Double(cols) * slotW - gapX) / 2, y: height - 6, anchor: "middle", weight: "bold")
        }
        doc.colorLegend(mapper: m, x: legendX, y: top + titleH + 12, height: min(160, max(60, panelH - 12)),
                        label: valueLabel, format: valueFormat)
        return doc.text
    }
}
