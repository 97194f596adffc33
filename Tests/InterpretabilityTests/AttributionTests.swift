import XCTest
import Transformer
import Interpretability

/// Occlusion, counterfactual comparison and stability on the real model.
final class AttributionTests: XCTestCase {
    func testOcclusionRanksTheCountryFirst() throws {
        let (model, _) = try AnalysisFixture.load()
        let prompt = try AnalysisFixture.encode("The capital city of France is")
        let paris = try AnalysisFixture.token(" Paris")
        // A filler token as the baseline (the end-of-text token or a zero embedding disturb the model
        // for reasons of their own: position 0 is an attention sink).
        let filler = try AnalysisFixture.token(" the")
        let result = try Occlusion.attribute(model: model, prompt: prompt, answer: paris, baseline: .token(filler))
        let france = try XCTUnwrap(prompt.firstIndex(of: try AnalysisFixture.token(" France")))
        XCTAssertEqual(result.ranking.first, france, "importance \(result.importance)")
        XCTAssertGreaterThan(result.importance[france], 1)   // more than a factor e in p(Paris)
        let dots = try Occlusion.attribute(model: model, prompt: prompt, answer: paris, baseline: .token(try AnalysisFixture.token("...")))
        XCTAssertEqual(dots.ranking.first, france, "importance with \"...\" \(dots.importance)")
        // The batched occluded runs agree with a single run of the same occluded prompt.
        var occluded = prompt
        occluded[france] = filler
        var cache = model.makeCache()
        let logits = try model.prefill(occluded, cache: &cache)
        XCTAssertEqual(result.occludedLogProbs[france], Softmax.logProbability(logits, at: paris), accuracy: 1e-3)
    }

    func testCompareIdenticalPromptsHasNoDivergence() throws {
        let (model, _) = try AnalysisFixture.load()
        let p = try AnalysisFixture.encode("The capital city of France is")
        let same = try Compare.nextToken(model: model, first: p, second: p, top: 5)
        XCTAssertEqual(same.klFirstToSecond, 0, accuracy: 1e-9)
        XCTAssertEqual(same.topFirst.map(\.token), same.topSecond.map(\.token))
        let q = try AnalysisFixture.encode("The capital city of Italy is")
        let diff = try Compare.nextToken(model: model, first: p, second: q, top: 5)
        XCTAssertGreaterThan(diff.klFirstToSecond, 0.5)
        let movers = diff.movers.map(\.token)
        XCTAssertTrue(movers.contains(try AnalysisFixture.token(" Paris")))
        XCTAssertTrue(movers.contains(try AnalysisFixture.token(" Rome")))
    }

    func testCompareOnHandMadeDistributions() {
        let p = [0.5, 0.5, 0.0], q = [0.25, 0.25, 0.5]
        let r = Compare.distributions(p, q, top: 2)
        XCTAssertEqual(r.klFirstToSecond, log(2), accuracy: 1e-12)   // 2 × 0.5 log(0.5/0.25)
        XCTAssertEqual(r.movers.first?.token, 2)
        XCTAssertEqual(r.movers.first?.change ?? 0, 0.5, accuracy: 1e-12)
        XCTAssertEqual(r.topSecond.first?.token, 2)
    }

    func testStabilityWithoutNoiseKeepsEverythingAndHeavyNoiseDoesNot() throws {
        let (model, _) = try AnalysisFixture.load()
        let p = try AnalysisFixture.encode("The capital city of France is")
        let quiet = try Stability.measure(model: model, prompt: p, layers: [2, 20], noise: 0, samples: 4, seed: 1)
        XCTAssertEqual(quiet.layers.map(\.kept), [1, 1])
        XCTAssertEqual(quiet.cleanTop, try AnalysisFixture.token(" Paris"))
        let loud = try Stability.measure(model: model, prompt: p, layers: [2, 20], noise: 3, samples: 8, seed: 1)
        XCTAssertLessThan(loud.layers[0].kept, 0.5)
        let again = try Stability.measure(model: model, prompt: p, layers: [2, 20], noise: 3, samples: 8, seed: 1)
        XCTAssertEqual(loud, again)   // seeded
    }
}
