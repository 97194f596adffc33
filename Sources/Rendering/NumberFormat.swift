import Foundation

// MARK: - Number formats

/// How a number is written in text and HTML (the JSON payload always carries the full value).
public enum NumberFormat: Sendable, Equatable {
    /// Fixed-point with the given digits after the point: `0.1235`.
    case fixed(Int)
    /// Percentage with the given digits after the point: `12.3%`.
    case percent(Int)
    /// Scientific with the given digits after the point: `1.23e-04`.
    case scientific(Int)
    /// A whole number: `1135`.
    case integer
    /// Up to four significant digits, switching to scientific for very small or large values.
    case general

    /// The text for `value`; non-finite values read `nan`, `inf`, `-inf`.
    public func format(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        switch self {
        case .fixed(let d): return String(format: "%.\(max(0, min(12, d)))f", value)
        case .percent(let d): return String(format: "%.\(max(0, min(12, d)))f%%", value * 100)
        case .scientific(let d): return String(format: "%.\(max(0, min(12, d)))e", value)
        case .integer:
            return abs(value) < 9e18 ? String(Int64(value.rounded())) : String(format: "%.0f", value)
        case .general:
            if value == 0 { return "0" }
            let a = abs(value)
            if a >= 1e-3 && a < 1e6 { return String(format: "%.4g", value) }
            return String(format: "%.3g", value)
        }
    }
}
