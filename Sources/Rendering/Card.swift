// MARK: - Card

/// A titled list of key/value rows, e.g. a model card.
public struct Card: Sendable, Equatable {
    /// One row.
    public struct Field: Sendable, Equatable {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) { self.key = key; self.value = value }
    }

    public var title: String
    public var fields: [Field]
    public var kind: String

    public init(title: String, fields: [Field], kind: String = "card") {
        self.title = title
        self.fields = fields
        self.kind = kind
    }

    /// A card from (key, value) pairs in order.
    public init(title: String, _ pairs: [(String, String)], kind: String = "card") {
        self.init(title: title, fields: pairs.map { Field($0.0, $0.1) }, kind: kind)
    }
}

// MARK: - Rendering

extension Card: MimeRenderable {
    /// text/plain, text/html and the vnd JSON.
    public var mimeBundle: MimeBundle {
        MimeBundle(data: [MimeBundle.plain: plainText, MimeBundle.html: html], json: json)
    }

    /// The title, then `key  value` lines with the keys right-aligned to a common width.
    public var plainText: String {
        let width = fields.map { displayWidth(singleLine($0.key)) }.max() ?? 0
        return ([singleLine(title)] + fields.map { pad(singleLine($0.key), width, right: true) + "  " + singleLine($0.value) })
            .joined(separator: "\n")
    }

    /// A bordered box with a heading and a two-column table.
    public var html: String {
        var h = "<div style=\"font-family:system-ui,sans-serif;font-size:13px;display:inline-block;border:1px solid #ccc;border-radius:6px;padding:6px 10px\">"
        h += "<div style=\"font-weight:600;margin-bottom:4px\">\(escapeHTML(title))</div><table style=\"border-collapse:collapse;font-size:13px\">"
        for field in fields {
            h += "<tr><td style=\"color:#666;padding:1px 12px 1px 0;text-align:right\">\(escapeHTML(field.key))</td><td style=\"padding:1px 0\">\(escapeHTML(field.value))</td></tr>"
        }
        return h + "</table></div>"
    }

    /// `{"kind","title","fields":{key: value, …}}` with keys in order (later duplicates win in
    /// most parsers, so `rows` keeps every pair too).
    public var json: JSONOut {
        .object([
            ("kind", .string(kind)),
            ("title", .string(title)),
            ("fields", .object(fields.map { ($0.key, .string($0.value)) })),
            ("rows", .array(fields.map { .strings([$0.key, $0.value]) })),
        ])
    }
}
