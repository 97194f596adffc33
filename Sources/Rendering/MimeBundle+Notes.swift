// MARK: - Notes that qualify a result

extension MimeBundle {
    /// The bundle with `notes` shown before the result in every form: text/plain lines starting
    /// with "Note:", an amber box above the HTML (a bundle with an SVG and no HTML gets an HTML
    /// form made of the box and the inline SVG, so that front ends preferring HTML show the notes),
    /// and a `"notes"` array in the vnd JSON object. Unchanged when `notes` is empty.
    public func noting(_ notes: [String]) -> MimeBundle {
        guard !notes.isEmpty else { return self }
        var out = self
        out.data[MimeBundle.plain] = (notes.map { "Note: " + $0 } + [plainText]).joined(separator: "\n")
        let box = "<div style=\"font-family:system-ui,sans-serif;font-size:12px;background:#fff4d6;border-left:3px solid #e0a100;"
            + "padding:4px 8px;margin:0 0 6px\">" + notes.map { "<div>⚠ \(escapeHTML($0))</div>" }.joined() + "</div>"
        if let html = data[MimeBundle.html] {
            out.data[MimeBundle.html] = "<div>" + box + html + "</div>"
        } else if let svg = data[MimeBundle.svg] {
            out.data[MimeBundle.html] = "<div>" + box + "<div style=\"overflow-x:auto\">" + svg + "</div></div>"
        }
        if case .object(let pairs)? = json {
            out.json = .object([("notes", .strings(notes))] + pairs)
        }
        return out
    }
}
