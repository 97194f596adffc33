import Foundation
import XCTest
import Transformer
@testable import Interpretability

/// `scripts/make_map_fixtures.py`: the same map fitted by numpy's least squares on pairs of
/// states from transformers.
struct MapReference: Decodable {
    let source_layer: Int
    let target_layer: Int
    let sentences: Int
    let passage: Int
    let split: Double
    let ridge: Double
    let pairs_per_text: [Int]
    let fitted: Int
    let held_out: Int
    let lambda: Double
    let r2: Double
    let mean_cosine: Double
    let weight_norm: Double
    let bias: [Float]
    let held_out_predictions: [[Float]]

    static func load() throws -> MapReference {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/map.json")
        return try JSONDecoder().decode(MapReference.self, from: Data(contentsOf: url))
    }
}

final class AffineMapTests: XCTestCase {
    /// A layer-6 → layer-12 map of SmolLM2 fitted on the text sample equals numpy's least-squares
    /// solution on transformers' states: the same pairs, λ, held-out R² and cosine, bias and
    /// held-out predictions.
    func testMapMatchesNumpyLeastSquares() throws {
        let (model, tokenizer) = try AnalysisFixture.load()
        let reference = try MapReference.load()
        let sentences = Array(TextSample.sentences.prefix(reference.sentences))
        let passages = stride(from: 0, to: sentences.count, by: reference.passage).map {
            sentences[$0..<min(sentences.count, $0 + reference.passage)].joined(separator: " ")
        }
        let runs = try PairedRuns.collect(source: model, sourceTokenizer: tokenizer, sourceLayers: [reference.source_layer],
                                          target: model, targetTokenizer: tokenizer, targetLayers: [reference.target_layer],
                                          texts: passages)
        XCTAssertEqual(runs.forwardPasses, passages.count, "one pass per text when both sides are one model")
        let pairs = runs.pairs(sourceLayer: reference.source_layer, targetLayer: reference.target_layer)
        XCTAssertEqual(pairs.textRows, reference.pairs_per_text)
        let start = Date()
        let map = try AffineMap.solve(pairs, ridge: reference.ridge, split: reference.split)
        let solveSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(map.samples, reference.fitted)
        XCTAssertEqual(map.heldOut, reference.held_out)
        XCTAssertEqual(map.lambda, reference.lambda, accuracy: reference.lambda * 1e-3)
        XCTAssertEqual(map.explainedVariance, reference.r2, accuracy: 2e-3)
        XCTAssertEqual(map.meanCosine, reference.mean_cosine, accuracy: 1e-3)
        let norm = map.weight.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertEqual(norm, reference.weight_norm, accuracy: reference.weight_norm * 2e-3)
        var worst: Float = 0
        for (a, b) in zip(map.bias, reference.bias) { worst = max(worst, abs(a - b)) }
        let scale = reference.bias.map(abs).max() ?? 1
        XCTAssertLessThan(worst, 0.01 * scale, "bias")
        let d = pairs.inputDim
        for (k, expected) in reference.held_out_predictions.enumerated() {
            let row = map.samples + k
            let predicted = map.apply(Array(pairs.xs[row * d..<(row + 1) * d]))
            var error = 0.0, size = 0.0
            for (p, e) in zip(predicted, expected) { error += Double((p - e) * (p - e)); size += Double(e * e) }
            XCTAssertLessThan((error / size).squareRoot(), 5e-3, "held-out row \(k)")
        }
        print("solve of \(map.samples) pairs × \(d): \(String(format: "%.3f", solveSeconds)) s")
    }

    /// Two tokenizations of one text pair the tokens that end at the same character.
    func testAlignmentPairsTokensEndingAtTheSameCharacter() throws {
        let (_, tokenizer) = try AnalysisFixture.load()
        let text = "The Colosseum is located in Rome."
        let ids = tokenizer.encode(text).map(Int.init)
        let same = TokenAlignment.pairs(ids, tokenizer, ids, tokenizer, text: text)
        XCTAssertEqual(same.map(\.0), Array(1..<ids.count), "every token but the first pairs with itself")
        XCTAssertEqual(same.map(\.0), same.map(\.1))
        // A coarser tokenisation of the same text: the words as single pieces where the vocabulary has them.
        let ends = TokenAlignment.ends(of: ids, tokenizer: tokenizer, textBytes: text.utf8.count)
        XCTAssertEqual(ends.last, text.utf8.count)
        XCTAssertEqual(ends, ends.sorted())
    }

    /// Across widths the fit shrinks toward zero, and a patch refuses other widths without a map.
    func testWidthsAreChecked() throws {
        let (model, _) = try AnalysisFixture.load()
        let d = model.config.modelDim
        // Synthetic pairs: y = A·x with a known A of another width; the fit recovers it.
        let n = 400, dOut = 7
        var rng = SystemRandomNumberGenerator()
        let inputs = 5
        var a = [Float](repeating: 0, count: dOut * inputs)
        for i in a.indices { a[i] = Float.random(in: -1...1, using: &rng) }
        var pairs = StatePairs(inputDim: inputs, outputDim: dOut)
        for _ in 0..<n {
            let x = (0..<inputs).map { _ in Float.random(in: -1...1, using: &rng) }
            pairs.xs += x
            pairs.ys += (0..<dOut).map { o in (0..<inputs).reduce(Float(0.5)) { $0 + a[o * inputs + $1] * x[$1] } }
        }
        pairs.textRows = [Int](repeating: 40, count: 10)
        let map = try AffineMap.solve(pairs, ridge: 0, split: 0.8)
        XCTAssertFalse(map.towardIdentity)
        XCTAssertGreaterThan(map.explainedVariance, 0.9999)
        for (w, e) in zip(map.weight, a) { XCTAssertEqual(w, e, accuracy: 1e-3) }
        for b in map.bias { XCTAssertEqual(b, 0.5, accuracy: 1e-3) }

        let source = try AnalysisFixture.encode("The Eiffel Tower is in the city of")
        let wrong = AffineMap(sourceLayer: 3, targetLayer: 3, inputDim: d, outputDim: d + 1,
                              weight: [Float](repeating: 0, count: d * (d + 1)), bias: [Float](repeating: 0, count: d + 1))
        XCTAssertThrowsError(try Patchscope.patch(model: model, source: source, sourceLayer: 3, sourcePosition: -1, target: source,
                                                  targetPosition: -1, map: wrong)) { error in
            XCTAssertEqual(error as? AnalysisError, .mapWidths(input: d, output: d + 1, source: d, target: d))
        }
    }
}
