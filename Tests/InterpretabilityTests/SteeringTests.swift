import XCTest
import Transformer
import Interpretability

/// Directions, steering and similarity on the real model.
final class SteeringTests: XCTestCase {
    func testScaleZeroReproducesTheUnsteeredContinuation() throws {
        let (model, _) = try AnalysisFixture.load()
        let prompt = try AnalysisFixture.encode("I think that dogs are")
        let v = try Direction.meanDifference(model: model, positive: [try AnalysisFixture.encode("Love")],
                                             negative: [try AnalysisFixture.encode("Hate")], layer: 6)
        let plain = try model.generate(prompt: prompt, maxTokens: 10)
        let runs = try Steering.generate(model: model, prompt: prompt, vector: v.values, layer: 6, scales: [0, 8],
                                         maxTokens: 10)
        XCTAssertEqual(runs[0].tokens, plain)
        // The hook itself at scale 0 changes nothing either (it adds 0 × v everywhere).
        let zeroHook = try model.generate(prompt: prompt, maxTokens: 10,
                                          hooks: Steering.hooks(vector: v.values, layer: 6, scale: 0))
        XCTAssertEqual(zeroHook, plain)
        // A strong push does change the text.
        XCTAssertNotEqual(runs[1].tokens, plain)
    }

    func testSteeringAddsTheVectorOnlyAtTheChosenPositions() throws {
        let (model, _) = try AnalysisFixture.load()
        let prompt = try AnalysisFixture.encode("The weather today is")
        var v = [Float](repeating: 0, count: model.config.modelDim)
        v[3] = 1
        let clean = try model.run(tokens: prompt, cache: [.residPost(4)])
        let steered = try model.run(tokens: prompt, cache: [.residPost(4)],
                                    hooks: Steering.hooks(vector: v, layer: 4, scale: 2.5, positions: [1]))
        let d = model.config.modelDim
        let a = try XCTUnwrap(clean.activations[.residPost(4)]).data
        let b = try XCTUnwrap(steered.activations[.residPost(4)]).data
        // Position 0 is untouched, position 1 moved by exactly 2.5 along axis 3.
        XCTAssertEqual(Array(a[0..<d]), Array(b[0..<d]))
        XCTAssertEqual(b[d + 3] - a[d + 3], 2.5, accuracy: 1e-4)
        XCTAssertEqual(b[d + 4], a[d + 4])
    }

    func testDirectionIsTheDifferenceOfCachedResidualStates() throws {
        let (model, _) = try AnalysisFixture.load()
        // Different lengths, so the reader runs several batches; the layer is below the top, so it stops early.
        let pos = try ["I love you", "What a wonderful day it is"].map(AnalysisFixture.encode)
        let neg = try ["I hate you", "Terrible"].map(AnalysisFixture.encode)
        let layer = 9
        for reduction in [PositionReduction.last, .mean] {
            let v = try Direction.meanDifference(model: model, positive: pos, negative: neg, layer: layer, reduction: reduction)
            func state(_ tokens: [Int]) throws -> [Double] {
                let t = try XCTUnwrap(try model.run(tokens: tokens, cache: [.residPost(layer)]).activations[.residPost(layer)])
                let d = model.config.modelDim, n = tokens.count
                if reduction == .last { return t.data[((n - 1) * d)..<(n * d)].map(Double.init) }
                return (0..<d).map { j in (0..<n).reduce(0.0) { $0 + Double(t.data[$1 * d + j]) } / Double(n) }
            }
            let p = try pos.map(state), q = try neg.map(state)
            var expected = [Double](repeating: 0, count: model.config.modelDim)
            for j in expected.indices {
                let plus: Double = (p[0][j] + p[1][j]) / 2
                let minus: Double = (q[0][j] + q[1][j]) / 2
                expected[j] = plus - minus
            }
            let err = zip(v.values, expected).map { abs(Double($0) - $1) }.max() ?? 1
            let scale = expected.map(abs).max() ?? 1
            XCTAssertLessThan(err / scale, 1e-4, "\(reduction)")
            XCTAssertEqual(v.layer, layer)
        }
    }

    func testCosineSimilarity() throws {
        XCTAssertEqual(try Similarity.cosine([1, 0], [0, 1]), 0, accuracy: 1e-12)
        XCTAssertEqual(try Similarity.cosine([1, 2, 3], [2, 4, 6]), 1, accuracy: 1e-12)
        XCTAssertEqual(try Similarity.cosine([1, 1], [-1, -1]), -1, accuracy: 1e-12)
        XCTAssertEqual(try Similarity.cosine([3, 4], [4, 3]), 24.0 / 25.0, accuracy: 1e-12)
        let m = try Similarity.matrix([[1, 0], [1, 1], [0, 2]])
        XCTAssertEqual(m[0][0], 1)
        XCTAssertEqual(m[0][1], 1 / 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(m[2][1], m[1][2])
        XCTAssertThrowsError(try Similarity.cosine([1, 2], [1, 2, 3]))
        XCTAssertThrowsError(try Similarity.matrix([[0, 0], [1, 1]]))
    }

    func testSteeringRejectsAVectorOfTheWrongWidth() throws {
        let (model, _) = try AnalysisFixture.load()
        XCTAssertThrowsError(try Steering.generate(model: model, prompt: [1, 2], vector: [1, 2, 3], layer: 0, scales: [1], maxTokens: 2)) {
            XCTAssertEqual($0 as? AnalysisError, .widthMismatch(expected: model.config.modelDim, found: 3))
        }
    }
}
