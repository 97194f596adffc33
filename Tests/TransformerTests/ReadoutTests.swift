import XCTest
@testable import Transformer

final class ReadoutTests: XCTestCase {
    func testReadingOutTheLastResidualReproducesTheLogits() throws {
        let model = try ModelFixture.model()
        let tokens = [504, 7011, 282, 3380, 314]
        let run = try model.run(tokens: tokens, cache: [.residPost(29), .residPost(10), .embed, .lnFinalNormalized])
        let resid = try XCTUnwrap(run.activations[.residPost(29)]).data
        let v = model.config.vocabularySize
        let lens = try model.logits(ofResiduals: resid, rows: 5)
        XCTAssertLessThanOrEqual(relativeError(lens, run.logits.data), 1e-5)
        // Already-normalised input skips the norm; one row goes through the decode kernels.
        let normed = try XCTUnwrap(run.activations[.lnFinalNormalized]).data
        let last = try model.logits(ofResiduals: Array(normed[4 * 576..<5 * 576]), rows: 1, normalize: false)
        XCTAssertLessThanOrEqual(relativeError(last, Array(run.logits.data[4 * v..<5 * v])), 1e-5)
        // A middle layer's lens differs from the output.
        let middle = try model.logits(ofResiduals: try XCTUnwrap(run.activations[.residPost(10)]).data, rows: 5)
        XCTAssertGreaterThan(relativeError(middle, run.logits.data), 0.1)
        XCTAssertThrowsError(try model.logits(ofResiduals: [1, 2], rows: 1))
    }

    func testEmbeddingsAndUnembeddingRows() throws {
        let model = try ModelFixture.model()
        let tokens = [504, 7011]
        let run = try model.run(tokens: tokens, cache: [.embed, .lnFinalNormalized])
        XCTAssertEqual(try model.embeddings(of: tokens), run.activations[.embed]?.data)
        // A logit is the unembedding row · ln_final output (tied output: the embedding row).
        let row = try model.unembeddingRow(3380)
        let normed = try XCTUnwrap(run.activations[.lnFinalNormalized]).data
        let dot = zip(row, normed[576..<1152]).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        XCTAssertEqual(dot, run.logits.data[model.config.vocabularySize + 3380], accuracy: 1e-3)
        XCTAssertEqual(row, try model.embeddings(of: [3380]))
        XCTAssertThrowsError(try model.embeddings(of: [-1]))
        let std = try model.embeddingStandardDeviation()
        XCTAssertGreaterThan(std, 0.01)
        XCTAssertLessThan(std, 1)
        // It reads the whole table, so an interrupt stops it between blocks of rows.
        XCTAssertThrowsError(try model.embeddingStandardDeviation(context: TaskContext(isCancelled: { true }))) {
            XCTAssertTrue($0 is CancelledError, "\($0)")
        }
    }
}
