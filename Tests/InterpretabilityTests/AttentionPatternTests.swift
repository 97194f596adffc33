import XCTest
import Transformer
@testable import Interpretability

final class AttentionPatternTests: XCTestCase {
    /// Every head of layers 0 and 15 matches transformers' eager attention probabilities.
    func testPatternsMatchReference() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().attention
        for (name, heads) in reference.layers {
            let layer = try XCTUnwrap(Int(name))
            let result = try AttentionPattern.run(model: model, prompt: reference.ids, layer: layer)
            XCTAssertEqual(result.heads, Array(0..<model.config.headCount))
            var worst: Float = 0
            for h in heads.indices {
                for q in heads[h].indices {
                    for k in heads[h][q].indices { worst = max(worst, abs(result.patterns[h][q][k] - heads[h][q][k])) }
                }
            }
            XCTAssertLessThan(worst, 1e-3, "layer \(layer)")
        }
    }

    /// One head: rows are distributions over the keys at or before the query.
    func testOneHeadIsCausalAndNormalised() throws {
        let (model, tokenizer) = try AnalysisFixture.load()
        let ids = try LensReference.load().attention.ids
        let result = try AttentionPattern.run(model: model, prompt: ids, layer: 7, head: 4, tokenizer: tokenizer)
        XCTAssertEqual(result.heads, [4])
        XCTAssertEqual(result.promptTokens.count, ids.count)
        for q in ids.indices {
            XCTAssertEqual(result.patterns[0][q].reduce(0, +), 1, accuracy: 1e-4)
            for k in (q + 1)..<max(ids.count, q + 1) { XCTAssertEqual(result.patterns[0][q][k], 0) }
        }
        XCTAssertThrowsError(try AttentionPattern.run(model: model, prompt: ids, layer: 7, head: 9))
        XCTAssertThrowsError(try AttentionPattern.run(model: model, prompt: ids, layer: -1)) { error in
            XCTAssertEqual(error as? AnalysisError, .layerOutOfRange(-1, layerCount: 30))
        }
    }
}
