import Foundation
import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Rendering

/// Snapshot and behaviour tests for Table, LineChart, ScatterPlot, TokenStrip, HeatmapGrid,
/// Card and the progress bar.
final class RenderersTests: XCTestCase {
    private func assertWellFormedSVG(_ svg: String?, file: StaticString = #filePath, line: UInt = #line) {
        guard let svg else { return XCTFail("no SVG", file: file, line: line) }
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "SVG does not parse: \(String(describing: parser.parserError))", file: file, line: line)
        XCTAssertFalse(svg.contains("<script") || svg.contains("href="), "SVG must be self-contained", file: file, line: line)
    }

    // MARK: Snapshots

    func testSnapshots() {
        let cases: [(String, MimeBundle)] = [
            ("top-table", Fixtures.topTable.mimeBundle),
            ("probe-chart", Fixtures.probeChart.mimeBundle),
            ("pca-scatter", Fixtures.pcaScatter.mimeBundle),
            ("attribution-strip", Fixtures.attributionStrip.mimeBundle),
            ("model-card", Fixtures.modelCard.mimeBundle),
            ("attention-grid", Fixtures.attentionGrid.mimeBundle),
            ("progress", progressBundle(fraction: 0.5, label: "layer 15/30", elapsed: 1.23)),
        ]
        let extensions = [MimeBundle.plain: "txt", MimeBundle.html: "html", MimeBundle.svg: "svg", MimeBundle.periscopeJSON: "json"]
        for (name, bundle) in cases {
            for (type, ext) in extensions.sorted(by: { $0.value < $1.value }) {
                guard let content = type == MimeBundle.periscopeJSON ? bundle.json?.serialized() : bundle.data[type] else { continue }
                assertSnapshot(content, named: "\(name).\(ext)")
            }
        }
    }

    // MARK: Table

    func testTableTextIsAlignedAndTokensVisible() {
        let lines = Fixtures.topTable.plainText.components(separatedBy: "\n")
        XCTAssertEqual(lines[1], "rank  token     id   prob  logit")
        // Right-aligned numbers end in the same column; the newline token is made visible.
        XCTAssertEqual(lines[3], "   1  ·Paris  7042  87.1%  17.25")
        XCTAssertEqual(lines[5], "   3  ↵<b>&    198   1.0%  12.80")
        XCTAssertEqual(lines.last, "probabilities after softmax over 49152 tokens")
    }

    func testTableHTMLEscapesAndShadesCells() throws {
        let html = Fixtures.topTable.html
        XCTAssertFalse(html.contains("<b>&"))
        XCTAssertTrue(html.contains("↵&lt;b&gt;&amp;"))
        // The 87% probability cell is shaded dark enough to switch to white text.
        let expected = ColorScale.sequential.color(at: 0.8712).hex
        XCTAssertTrue(html.contains("background:\(expected);color:#fff"), html)
    }

    func testTableJSONKeepsNumbersAndRawTokens() throws {
        let object = parseJSONObject(Fixtures.topTable.json.serialized())
        XCTAssertEqual(object["kind"] as? String, "table")
        XCTAssertEqual(object["shape"] as? [Int], [3, 5])
        let rows = try XCTUnwrap(object["rows"] as? [[Any]])
        XCTAssertEqual(rows[0][1] as? String, " Paris")
        XCTAssertEqual(rows[2][1] as? String, "\n<b>&")
        XCTAssertEqual(rows[0][3] as? Double ?? 0, 0.8712, accuracy: 1e-9)
        XCTAssertEqual(rows[1][2] as? Int, 260)
    }

    func testRaggedRowsArePaddedToTheColumns() {
        let table = Table(columns: [.init("a"), .init("b")], rows: [[.text("x")], [.text("1"), .text("2"), .text("3")]])
        let object = parseJSONObject(table.json.serialized())
        XCTAssertEqual(object["shape"] as? [Int], [2, 2])
        XCTAssertEqual(table.plainText.components(separatedBy: "\n"), ["a  b", "─  ─", "x", "1  2"])
    }

    // MARK: Charts

    func testLineChartSVGAndJSON() throws {
        let chart = Fixtures.probeChart
        assertWellFormedSVG(chart.svg)
        XCTAssertTrue(chart.svg.contains(">chance<") && chart.svg.contains(">held-out<"), "legend missing")
        XCTAssertTrue(chart.svg.contains("stroke-dasharray"), "reference line missing")
        let object = parseJSONObject(chart.json.serialized())
        let series = try XCTUnwrap(object["series"] as? [[String: Any]])
        XCTAssertEqual(series.count, 2)
        XCTAssertEqual((series[1]["y"] as? [Double])?.count, 30)
        XCTAssertEqual((object["reference"] as? [String: Any])?["y"] as? Double, 0.5)
        // The text table lists every layer once, with both series side by side.
        let lines = chart.plainText.components(separatedBy: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("   29  ") }, chart.plainText)
        XCTAssertTrue(chart.plainText.contains("reference: chance = 0.500"))
    }

    func testScatterEscapesLabelsAndColoursGroups() throws {
        let plot = Fixtures.pcaScatter
        assertWellFormedSVG(plot.svg)
        XCTAssertTrue(plot.svg.contains("&lt;b&gt;awful&lt;/b&gt; &amp; &quot;bad&quot;"))
        XCTAssertEqual(plot.groups, ["positive", "negative"])
        XCTAssertTrue(plot.svg.contains(categoricalPalette[1].hex), "second group colour missing")
        let object = parseJSONObject(plot.json.serialized())
        XCTAssertEqual(object["x"] as? [Double], [1.2, 0.9, -1.1, -0.8])
        XCTAssertEqual((object["groups"] as? [String])?.last, "negative")
    }

    func testNiceTicksCoverTheRange() {
        XCTAssertEqual(niceTicks(0, 29, count: 6), [0, 5, 10, 15, 20, 25])
        XCTAssertEqual(niceTicks(0.4, 1, count: 5), [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0].map { $0 }, accuracy: 1e-9)
    }

    // MARK: Token strip

    func testTokenStripShowsWhitespaceAndEscapes() throws {
        let strip = Fixtures.attributionStrip
        XCTAssertTrue(strip.html.contains(">·Eiffel<"))
        XCTAssertTrue(strip.html.contains(">↵<"))
        XCTAssertTrue(strip.html.contains("&lt;script&gt;") && !strip.html.contains("<script"))
        XCTAssertTrue(strip.html.contains("title=\"·Eiffel: 0.420\""))
        // Positive scores are red, negative blue: compare the channels of the two shades.
        let m = strip.mapper
        XCTAssertGreaterThan(m.color(0.42).r, m.color(0.42).b)
        XCTAssertGreaterThan(m.color(-0.21).b, m.color(-0.21).r)
        let object = parseJSONObject(strip.json.serialized())
        XCTAssertEqual(object["tokens"] as? [String], strip.tokens)
        XCTAssertTrue((object["values"] as? [Any])?.last is NSNull)
        let lines = strip.plainText.components(separatedBy: "\n")
        XCTAssertTrue(lines[1].hasPrefix("The    ·Eiffel"), lines[1])
        XCTAssertTrue(lines[2].contains("0.420"))
    }

    // MARK: Grid

    func testGridDrawsEveryPanelWithOneLegend() throws {
        let grid = Fixtures.attentionGrid
        assertWellFormedSVG(grid.svg)
        for h in 0..<4 { XCTAssertTrue(grid.svg.contains(">head \(h)<")) }
        let object = parseJSONObject(grid.json.serialized())
        let panels = try XCTUnwrap(object["panels"] as? [[String: Any]])
        XCTAssertEqual(panels.count, 4)
        XCTAssertEqual(panels[0]["shape"] as? [Int], [5, 5])
        XCTAssertEqual(grid.gridColumns, 2)
        XCTAssertTrue(grid.mimeBundle.data[MimeBundle.html]?.contains("<svg") ?? false)
    }

    // MARK: Progress and card

    func testProgressText() {
        XCTAssertEqual(progressBundle(fraction: 0.5, label: "layer 15/30", elapsed: 1.23).plainText, "[#####     ] 50% layer 15/30 1.2s")
        XCTAssertEqual(progressBundle(fraction: 2, label: "", elapsed: 0).plainText, "[##########] 100% 0.0s")
        XCTAssertEqual(progressBundle(fraction: .nan, label: "x", elapsed: 3).plainText, "[          ] 0% x 3.0s")
        XCTAssertTrue(progressBundle(fraction: 0.25, label: "<i>", elapsed: 1).data[MimeBundle.html]?.contains("width:25.0%") ?? false)
        XCTAssertFalse(progressBundle(fraction: 0.25, label: "<i>", elapsed: 1).data[MimeBundle.html]?.contains("<i>") ?? true)
    }

    func testCardAlignsKeys() {
        let lines = Fixtures.modelCard.plainText.components(separatedBy: "\n")
        XCTAssertEqual(lines[0], "SmolLM2-135M-Instruct")
        XCTAssertEqual(lines[1], "architecture  llama")
        XCTAssertEqual(lines[2], "      layers  30")
        let object = parseJSONObject(Fixtures.modelCard.json.serialized())
        XCTAssertEqual((object["fields"] as? [String: String])?["d_model"], "576")
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(a) vs \(b)", file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
