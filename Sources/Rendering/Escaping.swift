// MARK: - Escaping and visible whitespace

/// Makes whitespace and control characters in a token visible, so that " the" and "the" or a
/// newline token can be told apart in a table: space → `·`, newline → `↵`, tab → `⇥`,
/// carriage return → `␍`, other control characters → `\u{XX}` style escapes.
///
/// An empty token becomes `∅` so that a cell never looks blank by accident.
public func visibleToken(_ token: String) -> String {
    if token.isEmpty { return "∅" }
    var out = ""
    out.reserveCapacity(token.utf8.count)
    for scalar in token.unicodeScalars {
        switch scalar {
        case " ": out += "·"
        case "\n": out += "↵"
        case "\t": out += "⇥"
        case "\r": out += "␍"
        case "\u{00A0}": out += "⍽"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + hex2(Int(scalar.value))
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// Escapes text for HTML element content and double- or single-quoted attribute values.
public func escapeHTML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default:
            // Control characters other than tab/newline are not allowed in XML 1.0 at all.
            if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" {
                out += "\u{FFFD}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// Escapes text for XML (SVG) content and attribute values. The same rules as HTML, since
/// `&#39;` is valid in both.
public func escapeXML(_ text: String) -> String { escapeHTML(text) }

/// Two lower-case hex digits.
func hex2(_ value: Int) -> String {
    let digits = Array("0123456789abcdef")
    let v = max(0, min(255, value))
    return String(digits[v >> 4]) + String(digits[v & 15])
}

// MARK: - Terminal text helpers

/// Width of a string in terminal columns, counting each grapheme cluster as one column
/// (good enough for tokens; East Asian wide characters will be off by one each).
func displayWidth(_ text: String) -> Int { text.count }

/// Pads `text` to `width` columns, on the right (left-aligned) or on the left (right-aligned).
func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let gap = max(0, width - displayWidth(text))
    let fill = String(repeating: " ", count: gap)
    return right ? fill + text : text + fill
}

/// Shortens `text` to at most `width` columns, ending with `…` when cut.
func truncate(_ text: String, _ width: Int) -> String {
    guard width > 0 else { return "" }
    if displayWidth(text) <= width { return text }
    if width == 1 { return "…" }
    return String(text.prefix(width - 1)) + "…"
}

/// Makes text safe for one line of a plain-text table: whitespace that would break the layout
/// becomes visible.
func singleLine(_ text: String) -> String {
    guard text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\t" }) else { return text }
    return String(text.map { $0 == "\n" || $0 == "\r\n" ? "↵" : $0 == "\r" ? "␍" : $0 == "\t" ? "⇥" : $0 })
}

/// The CSS font stack for tokens. Not bare `monospace`, which browsers shrink to 13px/16px.
let htmlMonoFont = "ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
