import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Rendering

final class HeatmapTests: XCTestCase {
    // MARK: Snapshots

    func testLensHeatmapSnapshots() {
        let bundle = Fixtures.lensHeatmap.mimeBundle
        assertSnapshot(bundle.plainText, named: "lens-heatmap.txt")
        assertSnapshot(bundle.data[MimeBundle.html] ?? "", named: "lens-heatmap.html")
        assertSnapshot(bundle.data[MimeBundle.svg] ?? "", named: "lens-heatmap.svg")
        assertSnapshot(bundle.json?.serialized() ?? "", named: "lens-heatmap.json")
    }

    func testPatchingHeatmapSnapshots() {
        let bundle = Fixtures.patchingHeatmap.mimeBundle
        assertSnapshot(bundle.plainText, named: "patching-heatmap.txt")
        assertSnapshot(bundle.data[MimeBundle.svg] ?? "", named: "patching-heatmap.svg")
    }

    func testSimilarityHeatmapSnapshots() {
        let bundle = Fixtures.similarityHeatmap.mimeBundle
        assertSnapshot(bundle.data[MimeBundle.html] ?? "", named: "similarity-heatmap.html")
        assertSnapshot(bundle.data[MimeBundle.svg] ?? "", named: "similarity-heatmap.svg")
    }

    // MARK: Behaviour

    func testShowValuesWritesValuesInCellsButNotAsCellText() throws {
        let heatmap = Fixtures.similarityHeatmap
        XCTAssertTrue(heatmap.svg.contains(">0.62</text>"))
        XCTAssertTrue(heatmap.html.contains(">-0.08</td>"))
        let object = parseJSONObject(heatmap.json.serialized())
        XCTAssertNil(object["cell_text"], "values are not duplicated as cell text")
        // Diverging summaries name the most negative cell too.
        XCTAssertTrue(heatmap.plainText.contains("min -0.08 at love−hate, Paris−Rome"), heatmap.plainText)
    }

    func testBundleCarriesAllFourTypes() {
        let bundle = Fixtures.lensHeatmap.mimeBundle
        XCTAssertEqual(Set(bundle.data.keys), [MimeBundle.plain, MimeBundle.html, MimeBundle.svg])
        XCTAssertNotNil(bundle.json)
        XCTAssertTrue(bundle.plainText.contains("Logit lens"))
    }

    func testHostileTokenTextIsEscapedInHTMLAndSVG() throws {
        let bundle = Fixtures.lensHeatmap.mimeBundle
        for type in [MimeBundle.html, MimeBundle.svg] {
            let text = try XCTUnwrap(bundle.data[type])
            XCTAssertFalse(text.contains("<script"), "\(type) contains a raw <script")
            XCTAssertTrue(text.contains("&lt;script&gt;"), "\(type) lacks the escaped token")
            XCTAssertTrue(text.contains("&amp;&quot;&#39;"), "\(type) lacks the escaped &\"' token")
        }
    }

    func testSVGIsWellFormedXML() throws {
        for heatmap in [Fixtures.lensHeatmap, Fixtures.patchingHeatmap] {
            let svg = try XCTUnwrap(heatmap.mimeBundle.data[MimeBundle.svg])
            let parser = XMLParser(data: Data(svg.utf8))
            XCTAssertTrue(parser.parse(), "SVG does not parse: \(String(describing: parser.parserError))")
            XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            XCTAssertFalse(svg.contains("<script") || svg.contains("href"), "SVG must be self-contained")
            // Title, both axis labels and a legend are present.
            XCTAssertTrue(svg.contains(">\(heatmap.title)<"))
            XCTAssertTrue(svg.contains(">\(heatmap.xLabel)<") && svg.contains(">\(heatmap.yLabel)<"))
        }
    }

    func testJSONParsesAndCarriesValuesAndLabels() throws {
        let heatmap = Fixtures.lensHeatmap
        let object = parseJSONObject(heatmap.mimeBundle.json?.serialized())
        XCTAssertEqual(object["kind"] as? String, "heatmap")
        XCTAssertEqual(object["shape"] as? [Int], [4, 5])
        XCTAssertEqual(object["row_labels"] as? [String], ["L0", "L1", "L2", "L3"])
        let values = try XCTUnwrap(object["values"] as? [[Double]])
        XCTAssertEqual(values[3][1], 0.93, accuracy: 1e-6)
        XCTAssertEqual(values[0][2], 0.01, accuracy: 1e-6)
        let text = try XCTUnwrap(object["cell_text"] as? [[String]])
        XCTAssertEqual(text[0][2], "<script>")
        XCTAssertEqual(text[0][0], "↵")
        XCTAssertEqual(object["range"] as? [Double], [0, 1])
    }

    func testNaNBecomesNullInJSON() throws {
        let object = parseJSONObject(Fixtures.patchingHeatmap.mimeBundle.json?.serialized())
        let rows = try XCTUnwrap(object["values"] as? [[Any]])
        XCTAssertTrue(rows[2][1] is NSNull)
        XCTAssertEqual(rows[0][1] as? Double ?? .nan, sin(1.0) * 0.8, accuracy: 1e-6)
        // Diverging auto range is symmetric around zero.
        let range = try XCTUnwrap(object["range"] as? [Double])
        XCTAssertEqual(range[0], -range[1], accuracy: 1e-12)
        XCTAssertGreaterThan(range[1], 0.7)
    }

    func testThirtyByFortyHeatmapStaysCompact() {
        let rows = 30, cols = 40
        var values: [[Float]] = []
        for i in 0..<rows { values.append((0..<cols).map { (j: Int) -> Float in Float((i * 7 + j * 13) % 100) / 100 }) }
        let vocabulary = [" Paris", "\n", " the", "<b>", "ing"]
        var text: [[String]] = []
        for i in 0..<rows { text.append((0..<cols).map { (j: Int) -> String in visibleToken(vocabulary[(i + j) % 5]) }) }
        let heatmap = Heatmap(title: "lens", xLabel: "position", yLabel: "layer",
                              rowLabels: (0..<rows).map { "L\($0)" }, columnLabels: (0..<cols).map { "\($0) ·tok" },
                              values: values, cellText: text, valueLabel: "p")
        let bundle = heatmap.mimeBundle
        let total = bundle.data.values.reduce(0) { $0 + $1.utf8.count }
        let sizes = bundle.data.mapValues { $0.utf8.count }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        // Each of the 1200 cells carries a tooltip in the SVG (about 90 bytes each).
        XCTAssertLessThan(total, 320_000, "30×40 heatmap bundle is \(total) bytes: \(sizes)")
        XCTAssertEqual(bundle.data[MimeBundle.svg]?.components(separatedBy: "<title>").count, rows * cols + 1)
        // Every cell is drawn and the payload still has every value.
        let object = parseJSONObject(bundle.json?.serialized())
        XCTAssertEqual((object["values"] as? [[Double]])?.flatMap { $0 }.count, rows * cols)
    }

    func testPlainTextGridShowsCellTextAndSummary() {
        let text = Fixtures.lensHeatmap.plainText
        let lines = text.components(separatedBy: "\n")
        XCTAssertEqual(lines.first, "Logit lens: top-1 token per layer")
        XCTAssertTrue(lines.contains { $0.hasPrefix("L3") && $0.contains("·Paris") })
        XCTAssertTrue(text.contains("max 0.93 at L3, 1 ·Eiffel"), text)
        // No raw newline from the "\n" token leaks into the grid.
        XCTAssertEqual(lines.count, 1 + 1 + 4 + 1)
    }

    func testLargeHeatmapTextIsCut() {
        let values = (0..<100).map { i in (0..<100).map { j in Double(i + j) } }
        let heatmap = Heatmap(title: "big", xLabel: "key", yLabel: "query", rowLabels: [], columnLabels: [], values: values)
        let text = heatmap.plainText
        // The end is kept (a prompt's last positions are where it predicts), and what is left out is named.
        XCTAssertTrue(text.contains("(left out: rows 0…39 (the first 40 of 100) and columns 0…39 (the first 40 of 100)"), text)
        XCTAssertTrue(text.contains("\n99 "), text)
        XCTAssertFalse(text.contains("\n39 "), text)
        // Wide grids wrap into blocks of columns instead of one overlong line.
        XCTAssertLessThanOrEqual(text.components(separatedBy: "\n").map(\.count).max() ?? 0, 150)
        XCTAssertLessThan(text.utf8.count, 40_000)
    }
}

extension HeatmapTests {
    /// A 150-token causal attention pattern: the HTML table is dropped and runs are merged, so
    /// the bundle stays well under 1 MB.
    func testLongAttentionPatternStaysUnderOneMegabyte() {
        let n = 150
        var values: [[Double]] = []
        for q in 0..<n { values.append((0..<n).map { (k: Int) -> Double in k <= q ? 1 / Double(q + 1) : 0 }) }
        let heatmap = Heatmap(title: "attention", xLabel: "key", yLabel: "query", rowLabels: (0..<n).map { "t\($0)" },
                              columnLabels: (0..<n).map { "t\($0)" }, values: values)
        let bundle = heatmap.mimeBundle
        XCTAssertNil(bundle.data[MimeBundle.html])
        XCTAssertNotNil(bundle.data[MimeBundle.svg])
        let total = bundle.data.values.reduce(0) { $0 + $1.utf8.count }
        XCTAssertLessThan(total, 500_000, "150×150 attention bundle is \(total) bytes")
        // Zeros above the diagonal merge into one rectangle per row rather than one per cell.
        let svg = heatmap.svg
        let rectangles = svg.components(separatedBy: "z").count - 1
        XCTAssertLessThan(rectangles, n * n / 4)
    }
}
