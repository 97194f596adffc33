import Foundation
import XCTest
@testable import Rendering

/// Escaping, visible whitespace, the JSON writer, colour scales and number formats.
final class PrimitivesTests: XCTestCase {
    func testVisibleToken() {
        XCTAssertEqual(visibleToken(" the"), "·the")
        XCTAssertEqual(visibleToken("\n\n"), "↵↵")
        XCTAssertEqual(visibleToken("\ta b\r"), "⇥a·b␍")
        XCTAssertEqual(visibleToken(""), "∅")
        XCTAssertEqual(visibleToken("\u{1}"), "\\x01")
        XCTAssertEqual(visibleToken("café"), "café")
    }

    func testEscapeHTML() {
        XCTAssertEqual(escapeHTML("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;")
        XCTAssertEqual(escapeXML("a\u{0}b"), "a\u{FFFD}b", "NUL is not allowed in XML")
    }

    func testJSONWriterEscapesAndRoundTrips() throws {
        let value = JSONOut.object([
            ("s", .string("quote\" back\\ nl\n tab\t ctl\u{1} é 😀 <script>")),
            ("n", .nums([0.5, -1e-5, 3, .nan, .infinity, 1.0 / 3.0])),
            ("b", .bool(true)), ("z", .null), ("i", .int(-7)),
        ])
        let text = value.serialized()
        XCTAssertTrue(text.contains("\\u0001"))
        XCTAssertTrue(text.hasPrefix("{\"s\":"), "keys keep their order")
        let object = parseJSONObject(text)
        XCTAssertEqual(object["s"] as? String, "quote\" back\\ nl\n tab\t ctl\u{1} é 😀 <script>")
        let n = try XCTUnwrap(object["n"] as? [Any])
        XCTAssertEqual(n[0] as? Double, 0.5)
        XCTAssertEqual(n[1] as? Double ?? 0, -1e-5, accuracy: 1e-12)
        XCTAssertEqual(n[2] as? Int, 3)
        XCTAssertTrue(n[3] is NSNull)
        XCTAssertTrue(n[4] is NSNull)
        XCTAssertEqual(n[5] as? Double ?? 0, 1.0 / 3.0, accuracy: 1e-7)
        XCTAssertEqual(object["i"] as? Int, -7)
        XCTAssertTrue(object["z"] is NSNull)
    }

    func testNumberFormatting() {
        XCTAssertEqual(JSONWriter.formatNumber(0.1), "0.1")
        XCTAssertEqual(JSONWriter.formatNumber(Double(Float(0.1))), "0.1", "float32 noise is not written")
        XCTAssertEqual(JSONWriter.formatNumber(1e20), "1e20")
        XCTAssertEqual(NumberFormat.percent(1).format(0.8712), "87.1%")
        XCTAssertEqual(NumberFormat.fixed(2).format(-0.005), "-0.01")
        XCTAssertEqual(NumberFormat.general.format(0.000012345), "1.23e-05")
        XCTAssertEqual(NumberFormat.integer.format(41.6), "42")
        XCTAssertEqual(NumberFormat.general.format(.nan), "nan")
    }

    func testColourScaleEndpoints() {
        XCTAssertEqual(ColorScale.sequential.color(at: 0).hex, "#f7fbff")
        XCTAssertEqual(ColorScale.sequential.color(at: 1).hex, "#08306b")
        XCTAssertEqual(ColorScale.diverging.color(at: 0).hex, "#2166ac")
        XCTAssertEqual(ColorScale.diverging.color(at: 0.5).hex, "#f7f7f7")
        XCTAssertEqual(ColorScale.diverging.color(at: 1).hex, "#b2182b")
        // Out of range clamps; NaN is the missing grey.
        XCTAssertEqual(ColorScale.sequential.color(at: 7), ColorScale.sequential.color(at: 1))
        XCTAssertEqual(ColorScale.sequential.color(at: .nan), ColorScale.missing)
    }

    func testValueRanges() {
        let seq = ColorMapper(scale: .sequential, range: .auto, values: [0.2, 0.6, .nan])
        XCTAssertEqual(seq.low, 0.2)
        XCTAssertEqual(seq.high, 0.6)
        XCTAssertEqual(seq.color(0.6), ColorScale.sequential.color(at: 1))
        let div = ColorMapper(scale: .diverging, range: .auto, values: [-0.5, 2])
        XCTAssertEqual(div.low, -2)
        XCTAssertEqual(div.color(0), ColorScale.diverging.color(at: 0.5), "zero is white on a diverging scale")
        let fixed = ColorMapper(scale: .sequential, range: .fixed(0, 1), values: [5])
        XCTAssertEqual(fixed.color(5), ColorScale.sequential.color(at: 1))
        let flat = ColorMapper(scale: .sequential, range: .auto, values: [3, 3])
        XCTAssertLessThan(flat.low, flat.high, "a constant matrix still has a non-empty range")
    }

    func testTextColourFollowsBackground() {
        XCTAssertEqual(ColorScale.sequential.color(at: 1).textColor, RGB(255, 255, 255))
        XCTAssertEqual(ColorScale.sequential.color(at: 0).textColor, RGB(0, 0, 0))
    }
}
