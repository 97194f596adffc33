import Foundation
import XCTest
@testable import Rendering

/// Empty, degenerate and non-finite inputs render without crashing and stay parseable.
final class EdgeCaseTests: XCTestCase {
    func testEmptyInputsRender() {
        let bundles: [(String, MimeBundle)] = [
            ("table", Table(title: "T", columns: [.init("a")], rows: []).mimeBundle),
            ("heatmap", Heatmap(title: "H", xLabel: "x", yLabel: "y", rowLabels: [], columnLabels: [], values: [[Double]]()).mimeBundle),
            ("grid", HeatmapGrid(title: "G", panels: []).mimeBundle),
            ("line", LineChart(title: "L", xLabel: "x", yLabel: "y", series: []).mimeBundle),
            ("scatter", ScatterPlot(title: "S", xLabel: "x", yLabel: "y", points: []).mimeBundle),
            ("strip", TokenStrip(title: "K", tokens: [], scores: []).mimeBundle),
            ("card", Card(title: "C", fields: []).mimeBundle),
        ]
        for (name, bundle) in bundles {
            XCTAssertFalse(bundle.plainText.isEmpty, name)
            let object = parseJSONObject(bundle.json?.serialized())
            XCTAssertNotNil(object["kind"], name)
        }
        XCTAssertTrue(Table(columns: [.init("a")], rows: []).plainText.contains("(no rows)"))
    }

    func testNonFiniteChartValuesAreSkippedInDrawingAndNullInJSON() throws {
        let chart = LineChart(title: "L", xLabel: "x", yLabel: "y",
                              series: [.init(name: "s", x: [0, 1, 2, 3], y: [0.1, .nan, .infinity, 0.4])])
        XCTAssertFalse(chart.svg.contains("nan") || chart.svg.contains("inf"), "no non-finite coordinates in the SVG")
        XCTAssertEqual(chart.svg.components(separatedBy: "<circle").count - 1, 2)
        let object = parseJSONObject(chart.json.serialized())
        let y = try XCTUnwrap((object["series"] as? [[String: Any]])?.first?["y"] as? [Any])
        XCTAssertTrue(y[1] is NSNull && y[2] is NSNull)
    }

    func testConstantHeatmapAndSinglePointChart() {
        let flat = Heatmap(title: "flat", xLabel: "x", yLabel: "y", rowLabels: ["a"], columnLabels: ["b", "c"], values: [[2.0, 2.0]])
        XCTAssertTrue(flat.svg.contains("<path"))
        let one = ScatterPlot(title: "one", xLabel: "x", yLabel: "y", points: [.init(x: 1, y: 1, label: "p")])
        XCTAssertEqual(one.svg.components(separatedBy: "<circle").count - 1, 1)
    }

    /// A heatmap with too many cells to read their text draws none in the SVG (which stays small),
    /// while the vnd JSON keeps every cell's text; a small one draws it.
    func testLargeHeatmapDropsCellTextFromTheSVGOnly() throws {
        func heatmap(_ rows: Int, _ cols: Int) -> Heatmap {
            var values: [[Double]] = [], texts: [[String]] = []
            for i in 0..<rows {
                let row: [Int] = Array(0..<cols)
                values.append(row.map { j -> Double in Double((i * 7 + j) % 10) / 10 })
                texts.append(row.map { j -> String in "t" + String((i + j) % 5) })
            }
            return Heatmap(title: "lens", xLabel: "position", yLabel: "layer", rowLabels: (0..<rows).map(String.init),
                    columnLabels: (0..<cols).map(String.init),
                    values: values, cellText: texts)
        }
        let small = heatmap(30, 20), large = heatmap(30, 300)
        XCTAssertTrue(small.svg.contains(">t3</text>"))
        XCTAssertFalse(large.svg.contains(">t3</text>"))
        // Past the per-cell limit each column carries one tooltip listing its cells.
        XCTAssertLessThan(large.svg.utf8.count, 300_000)
        XCTAssertEqual(large.svg.components(separatedBy: "<title>").count, 300 + 1)
        XCTAssertTrue(large.svg.contains("29 t3 0.9</title>") || large.svg.contains("\n29 t3"), "last row listed in its column's tooltip")
        XCTAssertEqual(small.svg.components(separatedBy: "<title>").count, 600 + 1)
        let texts = try XCTUnwrap(parseJSONObject(large.json.serialized())["cell_text"] as? [[String]])
        XCTAssertEqual(texts[29][299], "t3")
    }

    func testRaggedHeatmapFillsMissingCellsWithNull() throws {
        let h = Heatmap(title: "r", xLabel: "x", yLabel: "y", rowLabels: ["0", "1"], columnLabels: ["a", "b"], values: [[1.0, 2.0], [3.0]])
        let object = parseJSONObject(h.json.serialized())
        let rows = try XCTUnwrap(object["values"] as? [[Any]])
        XCTAssertEqual(rows[1].count, 2)
        XCTAssertTrue(rows[1][1] is NSNull)
    }

    func testCombiningBundles() throws {
        let combined = MimeBundle.combining([Fixtures.topTable.mimeBundle, Fixtures.probeChart.mimeBundle,
                                             MimeBundle(plain: "a <note>")])
        XCTAssertTrue(combined.plainText.hasPrefix("Next token after"))
        XCTAssertTrue(combined.plainText.hasSuffix("\n\na <note>"))
        let html = try XCTUnwrap(combined.data[MimeBundle.html])
        XCTAssertTrue(html.contains("<table") && html.contains("<svg") && html.contains("a &lt;note&gt;"))
        XCTAssertNil(combined.data[MimeBundle.svg])
        let object = parseJSONObject(combined.json?.serialized())
        let items = try XCTUnwrap(object["items"] as? [Any])
        XCTAssertEqual((items[0] as? [String: Any])?["kind"] as? String, "table")
        XCTAssertEqual((items[1] as? [String: Any])?["kind"] as? String, "line_chart")
        XCTAssertTrue(items[2] is NSNull)
        XCTAssertEqual(MimeBundle.combining([Fixtures.modelCard.mimeBundle]), Fixtures.modelCard.mimeBundle)
    }
}
