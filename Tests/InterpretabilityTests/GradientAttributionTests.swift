import Foundation
import XCTest
@testable import Interpretability
import Transformer

/// Gradient attribution, attribution patching and head patching: against PyTorch autograd's
/// numbers for the same GGUF (Tests/TransformerTests/Fixtures/gradients, made by
/// scripts/make_gradient_fixtures.py) and against exact patching done through hooks.
final class GradientAttributionTests: XCTestCase {
    private struct Reference: Decodable {
        struct Blob: Decodable { let offset: Int; let shape: [Int] }
        struct Patching: Decodable {
            let cleanIds: [Int]
            let corruptIds: [Int]
            let answer: Int
            let cleanValue: Double
            let corruptValue: Double
            let grids: [String: Blob]
        }
        struct Integrated: Decodable {
            let ids: [Int]
            let answer: Int
            let steps: Int
            let scores: [Double]
            let valueAtInput: Double
            let valueAtBaseline: Double
        }
        let patching: Patching
        let integratedGradients: Integrated
    }

    private static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../TransformerTests/Fixtures/gradients").standardized

    private func reference() throws -> (Reference, Data) {
        let json = try Data(contentsOf: Self.directory.appendingPathComponent("reference.json"))
        return (try JSONDecoder().decode(Reference.self, from: json),
                try Data(contentsOf: Self.directory.appendingPathComponent("reference.bin")))
    }

    private func floats(_ blob: Reference.Blob, _ data: Data) -> [Double] {
        data.withUnsafeBytes { raw in
            (0..<blob.shape.reduce(1, *)).map { i in
                Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: blob.offset + 4 * i, as: UInt32.self))))
            }
        }
    }

    func testAttributionPatchingGridsMatchTorch() throws {
        let (model, _) = try AnalysisFixture.load()
        let (ref, data) = try reference()
        let p = ref.patching
        for (name, blob) in p.grids.sorted(by: { $0.key < $1.key }) {
            let hook = try XCTUnwrap(HookSite(rawValue: name))
            let result = try AttributionPatching.run(model: model, clean: p.cleanIds, corrupt: p.corruptIds,
                                                     metric: .probability(answer: p.answer), hook: hook)
            XCTAssertEqual(result.kind, .attributionPatching)
            XCTAssertEqual(result.cleanValue, p.cleanValue, accuracy: 1e-3 * max(p.cleanValue, 1e-3))
            XCTAssertEqual(result.corruptValue, p.corruptValue, accuracy: 1e-3 * max(p.corruptValue, 1e-3))
            let theirs = floats(blob, data)                                   // [L, T] estimated changes
            let ours = result.raw.flatMap { $0.map { $0 - result.corruptValue } }
            XCTAssertEqual(ours.count, theirs.count)
            let scale = theirs.map(abs).max() ?? 1
            let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 2e-3 * scale, "\(name): worst cell differs by \(worst) of \(scale)")
            print("attribution patching \(name): worst cell difference \(worst / scale) of the largest")
        }
    }

    func testKeptPassesGiveTheGridsAFreshPassGives() throws {
        let (model, _) = try AnalysisFixture.load()
        let (ref, _) = try reference()
        let p = ref.patching
        let metric = PatchingMetric.probability(answer: p.answer)
        func grid(_ hook: HookSite) throws -> [[Double]] {
            try AttributionPatching.run(model: model, clean: p.cleanIds, corrupt: p.corruptIds, metric: metric, hook: hook).raw
        }
        // The first call records every site; the others read what it kept.
        FirstOrderPass.shared.clear()
        let kept = try [HookSite.residPre, .attnOut, .mlpOut].map(grid)
        let heads = try AttributionPatching.heads(model: model, clean: p.cleanIds, corrupt: p.corruptIds, metric: metric).raw
        for (i, hook) in [HookSite.residPre, .attnOut, .mlpOut].enumerated() {
            FirstOrderPass.shared.clear()
            XCTAssertEqual(try grid(hook), kept[i], "\(hook)")
        }
        FirstOrderPass.shared.clear()
        XCTAssertEqual(try AttributionPatching.heads(model: model, clean: p.cleanIds, corrupt: p.corruptIds, metric: metric).raw, heads)
        // Another pair or metric is not served from the kept passes.
        let other = try AttributionPatching.run(model: model, clean: p.cleanIds, corrupt: p.corruptIds,
                                                metric: .logitDifference(answer: p.answer, against: p.corruptIds.last!),
                                                hook: .residPre)
        XCTAssertNotEqual(other.raw, kept[0])
    }

    func testIntegratedGradientsMatchTorchMidpointSum() throws {
        let (model, _) = try AnalysisFixture.load()
        let (ref, _) = try reference()
        let ig = ref.integratedGradients
        let result = try GradientAttribution.attribute(model: model, prompt: ig.ids, metric: .logProbability(answer: ig.answer),
                                                       method: .integratedGradients, steps: ig.steps, baseline: .zero)
        XCTAssertEqual(result.value, ig.valueAtInput, accuracy: 1e-3)
        XCTAssertEqual(try XCTUnwrap(result.baselineValue), ig.valueAtBaseline, accuracy: 1e-3)
        let scale = ig.scores.map(abs).max() ?? 1
        for (t, (ours, theirs)) in zip(result.scores, ig.scores).enumerated() {
            XCTAssertEqual(ours, theirs, accuracy: 2e-3 * scale, "token \(t)")
        }
        // The gap is reported from the same numbers torch gives.
        let theirGap = abs(ig.scores.reduce(0, +) - (ig.valueAtInput - ig.valueAtBaseline)) / abs(ig.valueAtInput - ig.valueAtBaseline)
        XCTAssertEqual(try XCTUnwrap(result.completenessGap), theirGap, accuracy: 0.02 * max(theirGap, 1))
    }

    func testInputTimesGradientAndSaliencyReadTheSameGradient() throws {
        let (model, _) = try AnalysisFixture.load()
        let prompt = try AnalysisFixture.encode("The Eiffel Tower is in the city of")
        let metric = GradientMetric.logProbability(answer: try AnalysisFixture.token(" Paris"))
        let saliency = try GradientAttribution.attribute(model: model, prompt: prompt, metric: metric, method: .saliency)
        let ixg = try GradientAttribution.attribute(model: model, prompt: prompt, metric: metric, method: .inputXGradient)
        XCTAssertEqual(saliency.scores.count, prompt.count)
        XCTAssertTrue(saliency.scores.allSatisfy { $0 >= 0 })
        // Cauchy–Schwarz: |x · g| ≤ ‖x‖ ‖g‖, with equality nowhere in general.
        let (_, _, x) = try GradientAttribution.embeddingGradient(model: model, prompt: prompt, metric: metric, context: .none)
        let d = model.config.modelDim
        for t in prompt.indices {
            let norm = x[t * d..<(t + 1) * d].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertLessThanOrEqual(abs(ixg.scores[t]), saliency.scores[t] * norm * (1 + 1e-6))
        }
        XCTAssertNil(ixg.completenessGap)
    }

    func testExactHeadPatchingEqualsHookedRuns() throws {
        let (model, _) = try AnalysisFixture.load()
        let clean = try AnalysisFixture.encode("The Eiffel Tower is in the city of")
        let corrupt = try AnalysisFixture.encode("The Colosseum is in the city of")
        let metric = PatchingMetric.probability(answer: try AnalysisFixture.token(" Paris"))
        let layers = [3, 17]
        let result = try HeadPatching.exact(model: model, clean: clean, corrupt: corrupt, metric: metric, layers: layers)
        XCTAssertEqual(result.raw.count, 2)
        XCTAssertEqual(result.raw[0].count, model.config.headCount)
        // The same restorations as plain hooked runs of the whole corrupt prompt.
        let zs = try model.run(tokens: clean, cache: layers.map(HookPoint.z), logits: .last).activations
        let c = model.config, hd = c.headDim
        for (i, l) in layers.enumerated() {
            for h in [0, c.headCount - 1] {
                let z = try XCTUnwrap(zs[.z(l)]).data
                let hooks = HookSet()
                hooks.add(.z(l)) { view in
                    for t in 0..<view.positions {
                        let row = view.row(batch: 0, position: t)
                        for e in 0..<hd { row[h * hd + e] = z[t * c.qDim + h * hd + e] }
                    }
                }
                let logits = try model.run(tokens: corrupt, hooks: hooks, logits: .last).logits
                XCTAssertEqual(result.raw[i][h], metric.value(logits.data[...]), accuracy: 1e-4, "layer \(l) head \(h)")
            }
        }
    }

    func testAttributionHeadsEstimateTheExactHeadsToFirstOrder() throws {
        let (model, _) = try AnalysisFixture.load()
        let clean = try AnalysisFixture.encode("The Eiffel Tower is in the city of")
        let corrupt = try AnalysisFixture.encode("The Colosseum is in the city of")
        let metric = PatchingMetric.logitDifference(answer: try AnalysisFixture.token(" Paris"), against: try AnalysisFixture.token(" Rome"))
        let layers = Array(stride(from: 0, to: model.config.layerCount, by: 3))
        let estimate = try AttributionPatching.heads(model: model, clean: clean, corrupt: corrupt, metric: metric, layers: layers)
        let exact = try HeadPatching.exact(model: model, clean: clean, corrupt: corrupt, metric: metric, layers: layers)
        let a = estimate.raw.flatMap { $0 }, b = exact.raw.flatMap { $0 }
        XCTAssertEqual(a.count, layers.count * model.config.headCount)
        let rho = spearman(a, b)
        print("heads: attribution vs exact Spearman \(rho)")
        XCTAssertGreaterThan(rho, 0.5)
    }
}

/// Spearman rank correlation.
func spearman(_ a: [Double], _ b: [Double]) -> Double {
    func ranks(_ x: [Double]) -> [Double] {
        var r = [Double](repeating: 0, count: x.count)
        for (rank, i) in x.indices.sorted(by: { x[$0] < x[$1] }).enumerated() { r[i] = Double(rank) }
        return r
    }
    let ra = ranks(a), rb = ranks(b), n = Double(a.count)
    let ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
    var num = 0.0, da = 0.0, db = 0.0
    for i in ra.indices { num += (ra[i] - ma) * (rb[i] - mb); da += (ra[i] - ma) * (ra[i] - ma); db += (rb[i] - mb) * (rb[i] - mb) }
    return num / (da * db).squareRoot()
}
