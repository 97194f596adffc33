import Foundation
import XCTest
@testable import Transformer

/// `Model.topTokens` (the chunked, row-wise read-out) against full logits and a softmax in double.
final class TopTokensTests: XCTestCase {
    func testTopTokensMatchFullLogitsAndSoftmax() throws {
        let model = try ModelFixture.model()
        let tokens = [504, 7011, 282, 3380, 314, 2114, 30, 1070, 253, 3575, 282]   // 11 positions
        let points = [HookPoint.residPost(3), .residPost(15), .residPost(29)]
        let run = try model.run(tokens: tokens, cache: points)
        let states = try points.flatMap { try XCTUnwrap(run.activations[$0]).data }   // 33 rows
        let rows = states.count / model.config.modelDim
        let vocab = model.config.vocabularySize
        let logits = try model.logits(ofResiduals: states, rows: rows)
        let saved = Model.readoutChunkRows
        defer { Model.readoutChunkRows = saved }
        for chunk in [384, 7] {   // one chunk; several uneven chunks
            Model.readoutChunkRows = chunk
            let k = 4
            let top = try model.topTokens(ofResiduals: states, rows: rows, k: k)
            XCTAssertEqual(top.count, rows)
            for r in 0..<rows {
                let row = Array(logits[r * vocab..<(r + 1) * vocab])
                let m = Double(row.max()!)
                let total = row.reduce(0.0) { $0 + exp(Double($1) - m) }
                let expected = row.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }.prefix(k)
                XCTAssertEqual(top[r].map(\.id), expected.map(\.offset), "row \(r), chunk \(chunk)")
                for (t, e) in zip(top[r], expected) {
                    XCTAssertEqual(t.logit, e.element, accuracy: 1e-5 * max(1, abs(e.element)))
                    let p = exp(Double(e.element) - m) / total
                    XCTAssertEqual(Double(t.probability), p, accuracy: 1e-6 + 1e-5 * p, "row \(r)")
                }
            }
        }
        XCTAssertThrowsError(try model.topTokens(ofResiduals: [1, 2], rows: 1, k: 1))
        XCTAssertThrowsError(try model.topTokens(ofResiduals: states, rows: rows, k: 0))
    }

    func testReadOutStopsWhenCancelled() throws {
        let model = try ModelFixture.model()
        let states = [Float](repeating: 0.1, count: 3 * model.config.modelDim)
        let cancelled = TaskContext(isCancelled: { true }, progress: { _, _ in })
        XCTAssertThrowsError(try model.topTokens(ofResiduals: states, rows: 3, k: 1, context: cancelled)) { error in
            XCTAssertTrue(error is CancelledError)
        }
    }
}
