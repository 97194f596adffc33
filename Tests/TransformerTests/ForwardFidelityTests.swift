import XCTest
@testable import Transformer

/// Our forward pass against Hugging Face transformers on the same GGUF (float32, CPU).
final class ForwardFidelityTests: XCTestCase {
    func testResidualStreamAndLogitsMatchReference() throws {
        let model = try ModelFixture.model()
        let reference = try Reference()
        XCTAssertGreaterThanOrEqual(reference.cases.count, 6)
        XCTAssertTrue(reference.cases.contains { $0.ids.count > 30 }, "one long prompt checks RoPE far from 0")
        let c = model.config
        for ref in reference.cases {
            let points = (0..<c.layerCount).map(HookPoint.residPost) + [.lnFinalNormalized]
            let result = try model.run(tokens: ref.ids, cache: points)
            let t = ref.ids.count, d = c.modelDim
            let resid = reference.floats(ref.residPost)
            var worst: Float = 0
            for (k, l) in ref.layers.enumerated() {
                let ours = try XCTUnwrap(result.activations[.residPost(l)])
                XCTAssertEqual(ours.shape, [1, t, d])
                let err = relativeError(ours.data[...], resid[k * t * d..<(k + 1) * t * d])
                worst = max(worst, err)
                XCTAssertLessThanOrEqual(err, 1e-4, "resid_post \(l) of '\(ref.text)'")
            }
            let normed = try XCTUnwrap(result.activations[.lnFinalNormalized])
            XCTAssertLessThanOrEqual(relativeError(normed.data, reference.floats(ref.lnFinal)), 1e-4, "ln_final of '\(ref.text)'")

            // Logits: the full last row, and the top of every position.
            let vocab = c.vocabularySize
            XCTAssertEqual(result.logits.shape, [t, vocab])
            let last = Array(result.logits.data[(t - 1) * vocab..<t * vocab])
            XCTAssertLessThanOrEqual(relativeError(last, reference.floats(ref.lastLogits)), 1e-4, "last logits of '\(ref.text)'")
            for p in 0..<t {
                let row = Array(result.logits.data[p * vocab..<(p + 1) * vocab])
                XCTAssertEqual(Sampler.topK(row, 5).map(\.index), Array(ref.topIds[p].prefix(5)), "top-5 at \(p) of '\(ref.text)'")
                let ours = ref.topIds[p].map { row[$0] }
                XCTAssertLessThanOrEqual(relativeError(ours, ref.topLogits[p]), 1e-4)
                let norm = row.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                XCTAssertEqual(norm, ref.logitNorms[p], accuracy: ref.logitNorms[p] * 1e-4)
            }
            print("fidelity '\(ref.text.prefix(40))' (\(t) tokens): worst resid_post relative error \(worst)")
        }
    }

    func testGreedyGenerationMatchesReference() throws {
        let model = try ModelFixture.model()
        let reference = try Reference()
        for ref in reference.cases {
            let ours = try model.generate(prompt: ref.ids, maxTokens: ref.greedy.count)
            XCTAssertEqual(ours, ref.greedy, "greedy continuation of '\(ref.text)'")
        }
    }
}
