import XCTest
@testable import PeriscopeLanguage

/// Half-typed and garbled cells: the front end must answer for every one, without trapping,
/// and its answers must agree with each other.
final class RobustnessTests: XCTestCase {
    /// A small deterministic generator, so a failure reproduces.
    private struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private let pieces = ["lens", " ", "p", "x", "=", "?", "[", "]", ",", "..", ".", "0", "-", "3", "1.5", "e",
                          "\"", "'", "\\", "\n", "#", "\\u{", "}", "😀", "blocks.3.hook_z", "\t", "\r\n", ";"]

    func testRandomCellsNeverTrapAndAgree() {
        var rng = SplitMix(state: 42)
        for _ in 0..<3000 {
            let count = Int.random(in: 0...12, using: &rng)
            let code = (0..<count).map { _ in pieces.randomElement(using: &rng) ?? "" }.joined()
            let scalars = Array(code.unicodeScalars)

            let result = parse(code)
            let status = completeness(of: code)
            switch result {
            case .success:
                XCTAssertNotEqual(status, .invalid, "parses but is called invalid: \(code.debugDescription)")
            case .failure(let error):
                XCTAssertNotEqual(status, .complete, "fails to parse but is called complete: \(code.debugDescription)")
                XCTAssertTrue((0...scalars.count).contains(error.location.offset), "error offset outside the cell")
                XCTAssertGreaterThanOrEqual(error.location.line, 1)
                XCTAssertGreaterThanOrEqual(error.location.column, 1)
                XCTAssertFalse(error.message.isEmpty)
            }

            for cursor in 0...scalars.count {
                let at = wordAtCursor(in: code, cursorOffset: cursor)
                XCTAssertTrue(at.range.lowerBound >= 0 && at.range.upperBound <= scalars.count)
                XCTAssertTrue(at.range.contains(cursor) || at.range.upperBound == cursor || at.range.lowerBound == cursor,
                              "word range \(at.range) misses cursor \(cursor) in \(code.debugDescription)")
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[at.range])
                XCTAssertEqual(at.word, String(view), "word is not the text of its range in \(code.debugDescription)")
            }
        }
    }

    func testErrorLineAndColumnMatchOffset() {
        // The reported line:column must name the same scalar as the offset.
        for code in ["run p\n  lens ]", "a\r\nb 1.2.3", "x = [1,\n\n 2 3]", "😀 = 3\n\"é\" = 4", "a \\\n b \\ c"] {
            guard case .failure(let error) = parse(code) else { XCTFail("\(code) should fail"); continue }
            let scalars = Array(code.unicodeScalars)
            let before = scalars[..<error.location.offset]
            let line = before.filter { $0 == "\n" }.count + 1
            let column = error.location.offset - (before.lastIndex(of: "\n").map { $0 + 1 } ?? 0) + 1
            XCTAssertEqual(error.location.line, line, code.debugDescription)
            XCTAssertEqual(error.location.column, column, code.debugDescription)
        }
    }
}
