// MARK: - Several displays as one

extension MimeBundle {
    /// One bundle showing `parts` one after another, e.g. a Patchscope's table and its heatmap.
    ///
    /// text/plain joins the parts with a blank line; text/html stacks each part's HTML (or its
    /// SVG inline, or its text in a `<pre>`); the vnd JSON is `{"kind":"group","items":[…]}` with
    /// each part's payload (or `null`). No SVG is offered, since one SVG cannot hold several.
    public static func combining(_ parts: [MimeBundle]) -> MimeBundle {
        if parts.count == 1, let only = parts.first { return only }
        let plain = parts.map(\.plainText).joined(separator: "\n\n")
        let html = parts.map { part -> String in
            if let h = part.data[MimeBundle.html] { return "<div style=\"margin-bottom:10px\">\(h)</div>" }
            if let s = part.data[MimeBundle.svg] { return "<div style=\"margin-bottom:10px;overflow-x:auto\">\(s)</div>" }
            return "<pre style=\"margin:0 0 10px\">\(escapeHTML(part.plainText))</pre>"
        }.joined()
        return MimeBundle(data: [MimeBundle.plain: plain, MimeBundle.html: "<div>\(html)</div>"],
                          json: .object([("kind", .string("group")), ("items", .array(parts.map { $0.json ?? .null }))]))
    }
}
