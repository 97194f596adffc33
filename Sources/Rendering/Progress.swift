import Foundation

// MARK: - Progress bar

/// A progress display: text/plain like `[#####     ] 50% layer 15/30 1.2s` and a thin HTML bar.
/// The fraction is clamped to 0...1 (NaN reads as 0).
public func progressBundle(fraction: Double, label: String, elapsed: Double) -> MimeBundle {
    let p = fraction.isFinite ? max(0, min(1, fraction)) : 0
    let slots = 10
    let filled = Int((p * Double(slots)).rounded(.down))
    let percent = Int((p * 100).rounded(.down))
    let seconds = elapsed.isFinite ? String(format: "%.1fs", max(0, elapsed)) : "?s"
    let name = singleLine(label)
    var text = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: slots - filled) + "] \(percent)%"
    if !name.isEmpty { text += " " + name }
    text += " " + seconds
    let html = "<div style=\"font-family:system-ui,sans-serif;font-size:12px;display:flex;align-items:center;gap:8px\">"
        + "<div style=\"width:220px;height:10px;background:#e8e8e8;border-radius:5px;overflow:hidden\">"
        + "<div style=\"width:\(String(format: "%.1f", p * 100))%;height:100%;background:#2171b5\"></div></div>"
        + "<span>\(percent)% \(escapeHTML(name)) <span style=\"color:#777\">\(seconds)</span></span></div>"
    return MimeBundle(data: [MimeBundle.plain: text, MimeBundle.html: html])
}
