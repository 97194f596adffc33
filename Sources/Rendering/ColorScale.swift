// MARK: - Colours

/// An sRGB colour with 8-bit channels.
public struct RGB: Sendable, Equatable, Hashable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    /// `#rrggbb`.
    public var hex: String { "#" + hex2(Int(r)) + hex2(Int(g)) + hex2(Int(b)) }

    /// Relative luminance in 0...1 (sRGB weights, no gamma), used to choose readable text.
    public var luminance: Double { (0.299 * Double(r) + 0.587 * Double(g) + 0.114 * Double(b)) / 255 }

    /// Black or white, whichever reads better on this background.
    public var textColor: RGB { luminance > 0.55 ? RGB(0, 0, 0) : RGB(255, 255, 255) }

    /// Linear interpolation from `a` (t = 0) to `b` (t = 1).
    static func mix(_ a: RGB, _ b: RGB, _ t: Double) -> RGB {
        func ch(_ x: UInt8, _ y: UInt8) -> UInt8 {
            UInt8(max(0, min(255, (Double(x) + (Double(y) - Double(x)) * t).rounded())))
        }
        return RGB(ch(a.r, b.r), ch(a.g, b.g), ch(a.b, b.b))
    }
}

/// How values map to colours.
public enum ColorScale: String, Sendable, Equatable {
    /// 0...1 from near-white to deep blue (probabilities, attention weights).
    case sequential
    /// Blue for negative, white at zero, red for positive (logit differences, scores).
    case diverging

    /// Colour stops, evenly spaced over 0...1.
    var stops: [RGB] {
        switch self {
        case .sequential: return [RGB(247, 251, 255), RGB(198, 219, 239), RGB(107, 174, 214), RGB(33, 113, 181), RGB(8, 48, 107)]
        case .diverging: return [RGB(33, 102, 172), RGB(146, 197, 222), RGB(247, 247, 247), RGB(244, 165, 130), RGB(178, 24, 43)]
        }
    }

    /// The colour at position `t` in 0...1 along the scale (clamped).
    public func color(at t: Double) -> RGB {
        let stops = self.stops
        guard t.isFinite else { return ColorScale.missing }
        let x = max(0, min(1, t)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(x))
        return RGB.mix(stops[i], stops[i + 1], x - Double(i))
    }

    /// The colour drawn for a missing (non-finite) value.
    public static let missing = RGB(221, 221, 221)
}

/// The value range a colour scale spans.
public enum ValueRange: Sendable, Equatable {
    /// From the data: min...max for sequential, symmetric ±max|v| for diverging.
    case auto
    /// A fixed range; values outside are clamped to the end colours.
    case fixed(Double, Double)

    /// The concrete (low, high) for `values` under `scale`, never empty.
    public func resolve(_ values: [Double], scale: ColorScale) -> (low: Double, high: Double) {
        switch self {
        case .fixed(let lo, let hi):
            if lo < hi { return (lo, hi) }
            if lo > hi { return (hi, lo) }
            return (lo - 0.5, hi + 0.5)
        case .auto:
            let finite = values.filter { $0.isFinite }
            guard let lo = finite.min(), let hi = finite.max() else {
                return scale == .diverging ? (-1, 1) : (0, 1)
            }
            switch scale {
            case .diverging:
                let m = max(abs(lo), abs(hi))
                return m > 0 ? (-m, m) : (-1, 1)
            case .sequential:
                if lo < hi { return (lo, hi) }
                return (lo - 0.5, hi + 0.5)
            }
        }
    }
}

/// Maps values to colours: a scale over a resolved range.
public struct ColorMapper: Sendable {
    public let scale: ColorScale
    public let low: Double
    public let high: Double

    public init(scale: ColorScale, range: ValueRange, values: [Double]) {
        self.scale = scale
        (low, high) = range.resolve(values, scale: scale)
    }

    /// Position of `value` along the scale, 0...1 (clamped); NaN when the value is not finite.
    public func position(_ value: Double) -> Double {
        guard value.isFinite else { return .nan }
        return max(0, min(1, (value - low) / (high - low)))
    }

    /// The colour for `value`; grey for non-finite values.
    public func color(_ value: Double) -> RGB {
        guard value.isFinite else { return ColorScale.missing }
        return scale.color(at: position(value))
    }

    /// The colour for `value` with its position rounded to one of `levels` steps, so that many
    /// cells can share one SVG path.
    func quantizedColor(_ value: Double, levels: Int = 64) -> RGB {
        guard value.isFinite else { return ColorScale.missing }
        let t = (position(value) * Double(levels - 1)).rounded() / Double(levels - 1)
        return scale.color(at: t)
    }
}

/// A categorical palette for series and groups (colour-blind-aware, ten hues).
public let categoricalPalette: [RGB] = [
    RGB(31, 119, 180), RGB(255, 127, 14), RGB(44, 160, 44), RGB(214, 39, 40), RGB(148, 103, 189),
    RGB(140, 86, 75), RGB(227, 119, 194), RGB(127, 127, 127), RGB(188, 189, 34), RGB(23, 190, 207),
]
