import XCTest
@testable import Rendering

/// Scatter labels stay readable when points crowd: no two labels overlap, none covers another
/// point, and every label stays inside the plot.
final class LabelPlacementTests: XCTestCase {
    let frame = LabelBox(x: 0, y: 0, w: 520, h: 360)

    func testCrowdedPointsGetLabelsThatDoNotOverlap() {
        // Eight one-token prompts whose states land within a few pixels of each other, as
        // `project` draws them when the attention sink dominates.
        let points: [(Double, Double)] = (0..<8).map { (i: Int) -> (Double, Double) in
            (260 + 3 * Double(i % 3), 180 + 2 * Double(i / 3))
        }
        let texts = ["The capital of Germany is…", "The capital of Norway is …", "The capital of Peru is Lima",
                     "The capital of Kenya is N…", "Love", "Hate", "joy", "grief"]
        let boxes = placeLabels(texts, at: points, frame: frame)
        XCTAssertEqual(boxes.count, texts.count)
        for (i, a) in boxes.enumerated() {
            XCTAssertTrue(a.inside(frame), "label \(i) leaves the plot: \(a)")
            XCTAssertGreaterThanOrEqual(a.w, textWidth(texts[i], size: 10), "label \(i) is narrower than its text")
            for (j, b) in boxes.enumerated() where j > i {
                XCTAssertFalse(a.overlaps(b), "labels \(i) and \(j) overlap: \(a) \(b)")
            }
        }
        // Labels pushed away from a crowded point say whose they are with a leader line.
        XCTAssertTrue(boxes.contains { $0.leader })
    }

    func testSpreadPointsKeepTheirLabelsBesideThem() {
        let points = [(60.0, 60.0), (460.0, 60.0), (60.0, 300.0), (460.0, 300.0)]
        let boxes = placeLabels(["a", "b", "c", "d"], at: points, frame: frame)
        for (box, (px, py)) in zip(boxes, points) {
            XCTAssertFalse(box.leader)
            let cx = box.x + box.w / 2, cy = box.y + box.h / 2
            XCTAssertLessThan(((cx - px) * (cx - px) + (cy - py) * (cy - py)).squareRoot(), 20)
        }
    }
}
