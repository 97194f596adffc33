import XCTest
@testable import Transformer

/// `Model.run(…, logits: .last)`: what `run p` uses to cache a prompt without unembedding every position.
final class RunSelectionTests: XCTestCase {
    func testLastPositionLogitsEqualTheLastRowOfAll() throws {
        let model = try ModelFixture.model()
        let tokens = [504, 7011, 282, 3380, 314, 2114, 30]
        let vocab = model.config.vocabularySize
        let all = try model.run(tokens: tokens, cache: [.residPost(29)])
        let last = try model.run(tokens: tokens, cache: [.residPost(29)], logits: .last)
        XCTAssertEqual(all.logits.shape, [tokens.count, vocab])
        XCTAssertEqual(last.logits.shape, [1, vocab])
        let expected = Array(all.logits.data[(tokens.count - 1) * vocab..<tokens.count * vocab])
        XCTAssertLessThanOrEqual(relativeError(last.logits.data, expected), 1e-6)
        // The cached activations and the KV cache do not depend on which logits were asked for.
        XCTAssertEqual(last.activations[.residPost(29)]?.data, all.activations[.residPost(29)]?.data)
        XCTAssertEqual(last.kvCache.length, tokens.count)
    }
}
