// MARK: - Scatter plot

/// Labelled points in two dimensions (e.g. a PCA projection of prompts), coloured by group.
public struct ScatterPlot: Sendable, Equatable {
    /// One point with its label and optional group (points of a group share a colour).
    public struct Point: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public var label: String
        public var group: String?
        public init(x: Double, y: Double, label: String, group: String? = nil) {
            self.x = x
            self.y = y
            self.label = label
            self.group = group
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var points: [Point]
    public var valueFormat: NumberFormat
    public var kind: String

    public init(title: String, xLabel: String, yLabel: String, points: [Point], valueFormat: NumberFormat = .fixed(3),
                kind: String = "scatter") {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.points = points
        self.valueFormat = valueFormat
        self.kind = kind
    }

    /// Group names in order of first appearance.
    public var groups: [String] {
        var seen: [String] = []
        for p in points { if let g = p.group, !seen.contains(g) { seen.append(g) } }
        return seen
    }

    func color(of p: Point) -> RGB {
        guard let g = p.group, let k = groups.firstIndex(of: g) else { return categoricalPalette[0] }
        return categoricalPalette[k % categoricalPalette.count]
    }
}

// MARK: - Rendering

extension ScatterPlot: MimeRenderable {
    /// text/plain (a table of the points), SVG and the vnd JSON.
    public var mimeBundle: MimeBundle {
        MimeBundle(data: [MimeBundle.plain: plainText, MimeBundle.svg: svg, MimeBundle.periscopeJSON: json.serialized()])
    }

    /// A table: label, x, y and group when any point has one.
    public var plainText: String {
        let hasGroups = !groups.isEmpty
        var columns: [Table.Column] = [.init("label"), .init(xLabel, alignment: .right), .init(yLabel, alignment: .right)]
        if hasGroups { columns.append(.init("group")) }
        let rows: [[Table.Cell]] = points.map { p in
            var row: [Table.Cell] = [.text(p.label), .number(p.x, valueFormat), .number(p.y, valueFormat)]
            if hasGroups { row.append(.text(p.group ?? "")) }
            return row
        }
        return Table(title: title, columns: columns, rows: rows).plainText
    }

    /// `{"kind","title","x_label","y_label","shape","labels","x","y","groups"?}`.
    public var json: JSONOut {
        var pairs: [(String, JSONOut)] = [
            ("kind", .string(kind)),
            ("title", .string(title)),
            ("x_label", .string(xLabel)),
            ("y_label", .string(yLabel)),
            ("shape", .array([.int(points.count), .int(2)])),
            ("labels", .strings(points.map(\.label))),
            ("x", .nums(points.map(\.x))),
            ("y", .nums(points.map(\.y))),
        ]
        if !groups.isEmpty { pairs.append(("groups", .array(points.map { $0.group.map { .string($0) } ?? .null }))) }
        return .object(pairs)
    }

    /// Axes, one circle per point with its label beside it (up to 80 labels), a group legend.
    public var svg: String {
        let finite = points.filter { $0.x.isFinite && $0.y.isFinite }
        func span(_ v: [Double]) -> (Double, Double) {
            var lo = v.min() ?? 0, hi = v.max() ?? 1
            if lo == hi { lo -= 1; hi += 1 }
            let pad = (hi - lo) * 0.08
            return (lo - pad, hi + pad)
        }
        let plot = PlotFrame(title: title, xLabel: xLabel, yLabel: yLabel, x: span(finite.map(\.x)),
                             y: span(finite.map(\.y)), legend: groups)
        var doc = plot.begin()
        var dots = "", labels = "<g font-size=\"10\" fill=\"#222\">"
        for p in finite {
            let X = plot.px(p.x), Y = plot.py(p.y)
            dots += "<circle cx=\"\(f(X))\" cy=\"\(f(Y))\" r=\"4\" fill=\"\(color(of: p).hex)\" fill-opacity=\"0.85\" stroke=\"#fff\"><title>\(escapeXML(p.label)): (\(JSONWriter.formatNumber(p.x)), \(JSONWriter.formatNumber(p.y)))</title></circle>"
            if finite.count <= 80 {
                // Labels go left of points in the right third so they stay inside the frame.
                let right = X > plot.left + plot.w * 0.66
                labels += "<text x=\"\(f(right ? X - 6 : X + 6))\" y=\"\(f(Y - 4))\"\(right ? " text-anchor=\"end\"" : "")>\(escapeXML(truncate(singleLine(p.label), 24)))</text>"
            }
        }
        doc.body += dots + labels + "</g>"
        var ly = plot.top + 6
        for (k, g) in groups.enumerated() {
            doc.body += "<circle cx=\"\(f(plot.legendX + 6))\" cy=\"\(f(ly))\" r=\"4\" fill=\"\(categoricalPalette[k % categoricalPalette.count].hex)\"/>"
            doc.text(truncate(singleLine(g), 22), x: plot.legendX + 16, y: ly + 3.5, size: 10)
            ly += 16
        }
        return doc.text
    }
}
