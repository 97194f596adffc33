// MARK: - Token strip

/// A prompt's tokens in a row, each shaded by a score (e.g. attribution to the answer) on a
/// diverging scale, with the value as a tooltip.
///
/// Tokens are raw model tokens; the strip makes their whitespace visible itself.
public struct TokenStrip: Sendable, Equatable {
    public var title: String
    public var tokens: [String]
    public var scores: [Double]
    public var scale: ColorScale
    public var range: ValueRange
    public var valueLabel: String?
    public var valueFormat: NumberFormat
    public var kind: String

    public init(title: String, tokens: [String], scores: [Double], scale: ColorScale = .diverging,
                range: ValueRange = .auto, valueLabel: String? = nil, valueFormat: NumberFormat = .fixed(3),
                kind: String = "token_strip") {
        self.title = title
        self.tokens = tokens
        self.scores = scores
        self.scale = scale
        self.range = range
        self.valueLabel = valueLabel
        self.valueFormat = valueFormat
        self.kind = kind
    }

    public var mapper: ColorMapper { ColorMapper(scale: scale, range: range, values: scores) }

    func score(_ i: Int) -> Double { i < scores.count ? scores[i] : .nan }
}

// MARK: - Rendering

extension TokenStrip: MimeRenderable {
    /// text/plain (tokens over their scores, wrapped), text/html (shaded spans) and the vnd JSON.
    public var mimeBundle: MimeBundle {
        MimeBundle(data: [MimeBundle.plain: plainText, MimeBundle.html: html], json: json)
    }

    /// Pairs of lines: visible tokens, and under each its score; wrapped at 100 columns.
    public var plainText: String {
        var out = [title]
        var top = "", bottom = ""
        for i in tokens.indices {
            let tok = truncate(visibleToken(tokens[i]), 20)
            let val = valueFormat.format(score(i))
            let w = max(displayWidth(tok), displayWidth(val))
            if !top.isEmpty && displayWidth(top) + w + 2 > 100 {
                out += [top.replacingTrailingSpaces(), bottom.replacingTrailingSpaces(), ""]
                top = ""
                bottom = ""
            }
            top += pad(tok, w) + "  "
            bottom += pad(val, w) + "  "
        }
        if !top.isEmpty { out += [top.replacingTrailingSpaces(), bottom.replacingTrailingSpaces()] }
        let m = mapper
        out.append("colour: \(valueLabel ?? "score") \(valueFormat.format(m.low))…\(valueFormat.format(m.high)) (\(scale.rawValue))")
        return out.joined(separator: "\n")
    }

    /// Inline spans with background colours and a tooltip each; a legend below.
    public var html: String {
        let m = mapper
        var h = "<div style=\"font-family:system-ui,sans-serif;font-size:13px\">"
        h += "<div style=\"font-weight:600;margin:2px 0 6px\">\(escapeHTML(title))</div><div style=\"line-height:2;font-family:\(htmlMonoFont);white-space:pre-wrap\">"
        for i in tokens.indices {
            let v = score(i)
            let bg = m.color(v)
            let fg = bg.textColor == RGB(0, 0, 0) ? "" : ";color:#fff"
            let tip = "\(visibleToken(tokens[i])): \(valueFormat.format(v))"
            h += "<span style=\"background:\(bg.hex)\(fg);padding:2px 1px;margin-right:2px;border-radius:3px\" title=\"\(escapeHTML(tip))\">\(escapeHTML(visibleToken(tokens[i])))</span>"
        }
        h += "</div>" + htmlLegend(m, label: valueLabel, format: valueFormat) + "</div>"
        return h
    }

    /// `{"kind","title","shape","tokens","values","scale","range"}`.
    public var json: JSONOut {
        let m = mapper
        return .object([
            ("kind", .string(kind)),
            ("title", .string(title)),
            ("shape", .array([.int(tokens.count)])),
            ("tokens", .strings(tokens)),
            ("values", .nums(tokens.indices.map(score))),
            ("scale", .string(scale.rawValue)),
            ("range", .array([.num(m.low), .num(m.high)])),
            ("value_label", valueLabel.map { .string($0) } ?? .null),
        ])
    }
}
