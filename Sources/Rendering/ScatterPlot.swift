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
        MimeBundle(data: [MimeBundle.plain: plainText, MimeBundle.svg: svg], json: json)
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
        var dots = "", labels = "<g font-size=\"10\" fill=\"#222\">", leaders = "<g stroke=\"#999\" stroke-width=\"0.7\">"
        let centres = finite.map { (plot.px($0.x), plot.py($0.y)) }
        for (p, (X, Y)) in zip(finite, centres) {
            dots += "<circle cx=\"\(f(X))\" cy=\"\(f(Y))\" r=\"4\" fill=\"\(color(of: p).hex)\" fill-opacity=\"0.85\" stroke=\"#fff\"><title>\(escapeXML(p.label)): (\(JSONWriter.formatNumber(p.x)), \(JSONWriter.formatNumber(p.y)))</title></circle>"
        }
        if finite.count <= 80 {
            let texts = finite.map { truncate(singleLine($0.label), 24) }
            let frame = LabelBox(x: plot.left, y: plot.top, w: plot.w, h: plot.h)
            for (k, place) in placeLabels(texts, at: centres, frame: frame).enumerated() {
                let (X, Y) = centres[k]
                labels += "<text x=\"\(f(place.x))\" y=\"\(f(place.y + place.h - 2))\">\(escapeXML(texts[k]))</text>"
                if place.leader {
                    // A label moved away from a crowd keeps a thin line to its point.
                    let lx = min(max(X, place.x), place.x + place.w), ly = min(max(Y, place.y), place.y + place.h)
                    leaders += "<line x1=\"\(f(X))\" y1=\"\(f(Y))\" x2=\"\(f(lx))\" y2=\"\(f(ly))\"/>"
                }
            }
        }
        doc.body += leaders + "</g>" + dots + labels + "</g>"
        var ly = plot.top + 6
        for (k, g) in groups.enumerated() {
            doc.body += "<circle cx=\"\(f(plot.legendX + 6))\" cy=\"\(f(ly))\" r=\"4\" fill=\"\(categoricalPalette[k % categoricalPalette.count].hex)\"/>"
            doc.text(truncate(singleLine(g), 22), x: plot.legendX + 16, y: ly + 3.5, size: 10)
            ly += 16
        }
        return doc.text
    }
}

// MARK: - Label placement

/// A label's box in SVG coordinates (top-left corner and size), and whether it was moved far
/// enough from its point to need a leader line.
struct LabelBox {
    var x: Double, y: Double, w: Double, h: Double
    var leader = false

    func overlaps(_ o: LabelBox) -> Bool { x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h }
    func inside(_ frame: LabelBox) -> Bool { x >= frame.x && y >= frame.y && x + w <= frame.x + frame.w && y + h <= frame.y + frame.h }
}

/// Boxes for `texts` beside their points, placed greedily so that no two labels and no label and
/// point overlap: each label tries eight spots around its point, then the same spots further out
/// (with a leader line), and keeps the first free one inside `frame`; a label with no free spot
/// takes the one overlapping least. Points are placed in order of crowding, most crowded first.
func placeLabels(_ texts: [String], at points: [(Double, Double)], frame: LabelBox) -> [LabelBox] {
    let h = 11.0
    let dots = points.map { LabelBox(x: $0.0 - 4, y: $0.1 - 4, w: 8, h: 8) }
    let crowding = points.indices.map { i in
        points.indices.filter { j in j != i && abs(points[j].0 - points[i].0) < 60 && abs(points[j].1 - points[i].1) < 24 }.count
    }
    let order = points.indices.sorted { (crowding[$0], -$0) > (crowding[$1], -$1) }
    var placed = [LabelBox?](repeating: nil, count: texts.count)
    var taken: [LabelBox] = []
    for i in order {
        let w = textWidth(texts[i], size: 10) + 2
        let (px, py) = points[i]
        var best: (box: LabelBox, cost: Int)?
        search: for (ring, gap) in [6.0, 18, 32, 48].enumerated() {
            let spots: [(Double, Double)] = [
                (px + gap, py - h / 2), (px - gap - w, py - h / 2), (px - w / 2, py - gap - h), (px - w / 2, py + gap),
                (px + gap * 0.7, py - gap * 0.7 - h), (px - gap * 0.7 - w, py - gap * 0.7 - h),
                (px + gap * 0.7, py + gap * 0.7), (px - gap * 0.7 - w, py + gap * 0.7),
            ]
            for (sx, sy) in spots {
                var box = LabelBox(x: sx, y: sy, w: w, h: h, leader: ring >= 2)
                guard box.inside(frame) else { continue }
                let cost = taken.filter(box.overlaps).count + dots.enumerated().filter { $0.offset != i && box.overlaps($0.element) }.count
                if cost == 0 { best = (box, 0); break search }
                if best.map({ cost < $0.cost }) ?? true { box.leader = true; best = (box, cost) }
            }
        }
        let box = best?.box ?? LabelBox(x: min(px + 6, frame.x + frame.w - w), y: py - h / 2, w: w, h: h)
        placed[i] = box
        taken.append(box)
    }
    return placed.map { $0 ?? LabelBox(x: 0, y: 0, w: 0, h: 0) }
}
