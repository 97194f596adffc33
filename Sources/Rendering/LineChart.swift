// MARK: - Line chart

/// A point of a chart.
public struct ChartPoint: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

/// One or more named series of (x, y) points, with an optional horizontal reference line (e.g.
/// chance accuracy for a probe).
public struct LineChart: Sendable, Equatable {
    /// A named series.
    public struct Series: Sendable, Equatable {
        public var name: String
        public var points: [ChartPoint]
        public init(name: String, points: [ChartPoint]) { self.name = name; self.points = points }
        /// A series from parallel arrays (extra entries of the longer one are ignored).
        public init(name: String, x: [Double], y: [Double]) {
            self.init(name: name, points: zip(x, y).map { ChartPoint($0, $1) })
        }
    }

    /// A horizontal line at `y` with a label.
    public struct ReferenceLine: Sendable, Equatable {
        public var y: Double
        public var label: String
        public init(y: Double, label: String) { self.y = y; self.label = label }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var reference: ReferenceLine?
    /// The y-axis range; `.auto` fits the data and the reference line.
    public var yRange: ValueRange
    public var valueFormat: NumberFormat
    public var kind: String

    public init(title: String, xLabel: String, yLabel: String, series: [Series], reference: ReferenceLine? = nil,
                yRange: ValueRange = .auto, valueFormat: NumberFormat = .general, kind: String = "line_chart") {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.reference = reference
        self.yRange = yRange
        self.valueFormat = valueFormat
        self.kind = kind
    }
}

// MARK: - Rendering

extension LineChart: MimeRenderable {
    /// text/plain (a table of the series), SVG and the vnd JSON.
    public var mimeBundle: MimeBundle {
        MimeBundle(data: [MimeBundle.plain: plainText, MimeBundle.svg: svg], json: json)
    }

    /// A table: x, then one column per series (blank where a series has no point at that x).
    public var plainText: String {
        let xs = Array(Set(series.flatMap { $0.points.map(\.x) }.filter(\.isFinite))).sorted()
        let lookup = series.map { s in Dictionary(s.points.map { ($0.x, $0.y) }, uniquingKeysWith: { a, _ in a }) }
        let rows: [[Table.Cell]] = xs.map { x in
            [.number(x, .general)] + lookup.map { l in l[x].map { Table.Cell.number($0, valueFormat) } ?? .empty }
        }
        let table = Table(title: title, columns: [.init(xLabel, alignment: .right)] + series.map { .init($0.name, alignment: .right) },
                          rows: rows, caption: reference.map { "reference: \($0.label) = \(valueFormat.format($0.y))" })
        return table.plainText + "\n(y: \(yLabel))"
    }

    /// `{"kind","title","x_label","y_label","series":[{"name","x","y"}],"reference"?}`.
    public var json: JSONOut {
        var pairs: [(String, JSONOut)] = [
            ("kind", .string(kind)),
            ("title", .string(title)),
            ("x_label", .string(xLabel)),
            ("y_label", .string(yLabel)),
            ("series", .array(series.map { s in
                .object([("name", .string(s.name)), ("x", .nums(s.points.map(\.x))), ("y", .nums(s.points.map(\.y)))])
            })),
        ]
        if let reference { pairs.append(("reference", .object([("y", .num(reference.y)), ("label", .string(reference.label))]))) }
        return .object(pairs)
    }

    /// Axes with nice ticks and grid lines, one polyline with markers per series, a dashed
    /// reference line, and a legend on the right.
    public var svg: String {
        let pts = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var xLo = pts.map(\.x).min() ?? 0, xHi = pts.map(\.x).max() ?? 1
        if xLo == xHi { xLo -= 1; xHi += 1 }
        var ys = pts.map(\.y)
        if let reference, reference.y.isFinite { ys.append(reference.y) }
        var (yLo, yHi): (Double, Double)
        switch yRange {
        case .fixed: (yLo, yHi) = yRange.resolve(ys, scale: .sequential)
        case .auto:
            (yLo, yHi) = (ys.min() ?? 0, ys.max() ?? 1)
            if yLo == yHi { yLo -= 1; yHi += 1 }
            let padY = (yHi - yLo) * 0.05
            (yLo, yHi) = (yLo - padY, yHi + padY)
        }
        let plot = PlotFrame(title: title, xLabel: xLabel, yLabel: yLabel, x: (xLo, xHi), y: (yLo, yHi),
                             legend: series.map(\.name) + (reference.map { [$0.label] } ?? []))
        var doc = plot.begin()
        if let reference, reference.y.isFinite, reference.y >= yLo, reference.y <= yHi {
            let y = plot.py(reference.y)
            doc.line(plot.left, y, plot.left + plot.w, y, stroke: "#888", width: 1.2, dash: "5 4")
        }
        for (k, s) in series.enumerated() {
            let colour = categoricalPalette[k % categoricalPalette.count].hex
            let visible = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            let coords = visible.map { "\(f(plot.px($0.x))),\(f(plot.py($0.y)))" }.joined(separator: " ")
            if visible.count > 1 {
                doc.body += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(coords)\"/>"
            }
            if visible.count <= 120 {
                doc.body += "<g fill=\"\(colour)\">" + visible.map {
                    "<circle cx=\"\(f(plot.px($0.x)))\" cy=\"\(f(plot.py($0.y)))\" r=\"2.5\"><title>\(escapeXML(s.name)): x=\(JSONWriter.formatNumber($0.x)) y=\(JSONWriter.formatNumber($0.y))</title></circle>"
                }.joined() + "</g>"
            }
        }
        // Legend.
        var ly = plot.top + 6
        for (k, s) in series.enumerated() {
            let colour = categoricalPalette[k % categoricalPalette.count].hex
            doc.line(plot.legendX, ly, plot.legendX + 18, ly, stroke: colour, width: 2)
            doc.text(truncate(singleLine(s.name), 22), x: plot.legendX + 23, y: ly + 3.5, size: 10)
            ly += 16
        }
        if let reference {
            doc.line(plot.legendX, ly, plot.legendX + 18, ly, stroke: "#888", width: 1.2, dash: "5 4")
            doc.text(truncate(singleLine(reference.label), 22), x: plot.legendX + 23, y: ly + 3.5, size: 10)
        }
        return doc.text
    }
}

// MARK: - Plot frame shared by line chart and scatter plot

/// The geometry of an x–y plot: margins, data-to-pixel mapping, axes with ticks and grid lines.
struct PlotFrame {
    let title: String, xLabel: String, yLabel: String
    let x: (Double, Double), y: (Double, Double)
    let left = 62.0, top = 34.0, w = 460.0, h = 260.0
    let legendWidth: Double

    init(title: String, xLabel: String, yLabel: String, x: (Double, Double), y: (Double, Double), legend: [String]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.x = x
        self.y = y
        let longest = legend.map { textWidth(truncate(singleLine($0), 22), size: 10) }.max() ?? 0
        legendWidth = legend.isEmpty ? 10 : longest + 40
    }

    var legendX: Double { left + w + 14 }
    func px(_ v: Double) -> Double { left + (v - x.0) / (x.1 - x.0) * w }
    func py(_ v: Double) -> Double { top + h - (v - y.0) / (y.1 - y.0) * h }

    /// A document with the title, grid, ticks, tick labels and axis labels drawn.
    func begin() -> SVGDocument {
        let width = max(legendX + legendWidth, textWidth(title, size: 13) + 20)
        var doc = SVGDocument(width: width, height: top + h + 48)
        doc.text(title, x: 10, y: 18, size: 13, weight: "bold")
        let xt = niceTicks(x.0, x.1, count: 6), yt = niceTicks(y.0, y.1, count: 5)
        let xStep = xt.count > 1 ? xt[1] - xt[0] : 1, yStep = yt.count > 1 ? yt[1] - yt[0] : 1
        var grid = "<g stroke=\"#e6e6e6\">", ticks = "<g font-size=\"10\" fill=\"#444\">"
        for t in xt {
            let X = px(t)
            grid += "<line x1=\"\(f(X))\" y1=\"\(f(top))\" x2=\"\(f(X))\" y2=\"\(f(top + h))\"/>"
            ticks += "<text x=\"\(f(X))\" y=\"\(f(top + h + 14))\" text-anchor=\"middle\">\(escapeXML(tickLabel(t, step: xStep)))</text>"
        }
        for t in yt {
            let Y = py(t)
            grid += "<line x1=\"\(f(left))\" y1=\"\(f(Y))\" x2=\"\(f(left + w))\" y2=\"\(f(Y))\"/>"
            ticks += "<text x=\"\(f(left - 5))\" y=\"\(f(Y + 3.5))\" text-anchor=\"end\">\(escapeXML(tickLabel(t, step: yStep)))</text>"
        }
        doc.body += grid + "</g>" + ticks + "</g>"
        doc.rect(left, top, w, h, fill: "none", stroke: "#555")
        doc.text(xLabel, x: left + w / 2, y: top + h + 36, anchor: "middle", weight: "bold")
        doc.text(yLabel, x: 16, y: top + h / 2, anchor: "middle", weight: "bold", rotate: -90)
        return doc
    }
}
