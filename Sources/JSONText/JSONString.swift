// MARK: - JSON string literals

/// Appends `text` to `out` as a JSON string literal: quotes, backslashes and control characters
/// escaped, and U+2028/U+2029 too, so the text also embeds in a script safely. Everything else is
/// written as it is (the output is UTF-8 text, not ASCII).
///
/// The protocol's serialiser (JupyterProtocol) and the payload writer (Rendering) both write
/// strings with this, so the two never disagree on what a string looks like.
public func appendJSONString(_ text: String, to out: inout String) {
    out += "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out += "\""
}
