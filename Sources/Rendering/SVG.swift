import Foundation

// MARK: - SVG helpers shared by the charts

/// Builds one self-contained SVG document: no scripts, no external references, every piece
/// of text XML-escaped.
struct SVGDocument {
    var body = ""
    let width: Double
    let height: Double

    init(width: Double, height: Double) {
        self.width = width.rounded(.up)
        self.height = height.rounded(.up)
    }

    /// The finished document.
    var text: String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"Helvetica,Arial,sans-serif\" font-size=\"11\">"
            + "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>" + body + "</svg>"
    }

    /// Text at (x, y); `anchor` is start/middle/end; `rotate` degrees about (x, y).
    mutating func text(_ s: String, x: Double, y: Double, anchor: String = "start", size: Double? = nil,
                       weight: String? = nil, rotate: Double? = nil, fill: String? = nil, mono: Bool = false) {
        var a = "x=\"\(f(x))\" y=\"\(f(y))\""
        if anchor != "start" { a += " text-anchor=\"\(anchor)\"" }
        if let size { a += " font-size=\"\(f(size))\"" }
        if let weight { a += " font-weight=\"\(weight)\"" }
        if let fill { a += " fill=\"\(fill)\"" }
        if mono { a += " font-family=\"monospace\"" }
        if let rotate { a += " transform=\"rotate(\(f(rotate)) \(f(x)) \(f(y)))\"" }
        body += "<text \(a)>\(escapeXML(s))</text>"
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String = "#333",
                       width: Double = 1, dash: String? = nil) {
        body += "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(stroke)\""
            + (width != 1 ? " stroke-width=\"\(f(width))\"" : "")
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>"
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, stroke: String? = nil) {
        body += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"\(fill)\""
            + (stroke.map { " stroke=\"\($0)\"" } ?? "") + "/>"
    }

    /// A vertical colour legend: a bar from `low` (bottom) to `high` (top) with three ticks.
    mutating func colorLegend(mapper: ColorMapper, x: Double, y: Double, height: Double, label: String?,
                              format: NumberFormat = .general) {
        let steps = 32
        let h = height / Double(steps)
        for i in 0..<steps {
            let t = (Double(i) + 0.5) / Double(steps)
            // Overlap by a fraction of a pixel so no hairline gaps show between steps.
            rect(x, y + height - Double(i + 1) * h, 12, h + 0.3, fill: mapper.scale.color(at: t).hex)
        }
        rect(x, y, 12, height, fill: "none", stroke: "#999")
        let ticks = [(mapper.high, y), ((mapper.low + mapper.high) / 2, y + height / 2), (mapper.low, y + height)]
        for (v, ty) in ticks {
            line(x + 12, ty, x + 15, ty, stroke: "#666")
            text(format.format(v), x: x + 17, y: ty + 3.5, size: 10)
        }
        if let label, !label.isEmpty {
            text(truncate(label, 30), x: x + 6, y: y - 6, anchor: "middle", size: 10, fill: "#444")
        }
    }
}

/// A coordinate with at most one decimal, without trailing zeros ("12", "12.5").
func f(_ x: Double) -> String {
    guard x.isFinite else { return "0" }
    let r = (x * 10).rounded() / 10
    if r == r.rounded() { return String(Int(r)) }
    return String(format: "%.1f", r)
}

/// Estimated width in pixels of `s` at `size` (average glyph ≈ 0.6 em; exact for monospace).
func textWidth(_ s: String, size: Double = 11) -> Double { Double(displayWidth(s)) * size * 0.6 }

/// About `count` "nice" tick values (1, 2, 5 × 10ⁿ steps) spanning `low...high`.
func niceTicks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
    guard low.isFinite, high.isFinite, high > low else { return [low] }
    let raw = (high - low) / Double(max(1, count))
    let mag = pow(10, floor(log10(raw)))
    let norm = raw / mag
    let step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag
    var ticks: [Double] = []
    var v = ceil(low / step - 1e-9) * step
    while v <= high + step * 1e-9 && ticks.count < 50 {
        ticks.append(abs(v) < step * 1e-9 ? 0 : v)
        v += step
    }
    return ticks
}

/// A tick label: integers without a point, others with just enough digits for `step`.
func tickLabel(_ v: Double, step: Double) -> String {
    if v == v.rounded() && abs(v) < 1e9 && step >= 1 { return String(Int(v)) }
    let digits = max(0, min(6, Int(ceil(-log10(step))) + 0))
    if abs(v) >= 1e5 || (abs(v) < 1e-4 && v != 0) { return String(format: "%.2g", v) }
    return String(format: "%.\(digits)f", v)
}

/// The cells of a grid as one SVG path per colour, with horizontal runs of equal colour merged
/// into one rectangle (attention patterns are mostly runs), so large grids stay small.
func gridPaths(rows: Int, columns: Int, x0: Double, y0: Double, cellWidth cw: Double, cellHeight ch: Double,
               color: (Int, Int) -> String) -> String {
    var paths: [String: String] = [:]
    for i in 0..<rows {
        var j = 0
        while j < columns {
            let c = color(i, j)
            var end = j + 1
            while end < columns && color(i, end) == c { end += 1 }
            let w = Double(end - j) * cw
            paths[c, default: ""] += "M\(f(x0 + Double(j) * cw)) \(f(y0 + Double(i) * ch))h\(f(w))v\(f(ch))h\(f(-w))z"
            j = end
        }
    }
    return paths.keys.sorted().map { "<path fill=\"\($0)\" d=\"\(paths[$0] ?? "")\"/>" }.joined()
}
