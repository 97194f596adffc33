import XCTest
@testable import Interpretability
@testable import Transformer

/// The sweep resumes each variant at the block after its patched layer; here it is checked against
/// the plain way: the whole target run with a replace hook, then greedy steps.
final class PatchscopeResumeTests: XCTestCase {
    func testResumedSweepEqualsFullPatchedRuns() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patchscope
        let source = reference.source_ids, target = reference.target_ids
        let sp = reference.source_position, tp = reference.placeholder_position
        // Unsorted layers (the sweep orders its batch by layer and must put rows back), the last
        // layer (resumes straight at the final norm), and a fixed target layer.
        let layers = [17, 3, 29, 0]
        for targetLayer in [TargetLayer.same, .fixed(12)] {
            let sweep = try Patchscope.sweep(model: model, source: source, sourcePosition: sp, sourceLayers: layers,
                                             target: target, targetPosition: tp, targetLayer: targetLayer, decoding: .generate(4))
            XCTAssertEqual(sweep.rows.map(\.sourceLayer), layers)
            for (row, l) in zip(sweep.rows, layers) {
                // The source state, read from a plain run.
                let sourceRun = try model.run(tokens: source, cache: [.residPost(l)])
                let state = Array(try XCTUnwrap(sourceRun.activations[.residPost(l)]).data[sp * 576..<(sp + 1) * 576])
                let written: Int
                if case .fixed(let f) = targetLayer { written = f } else { written = l }
                XCTAssertEqual(row.targetLayer, written)
                // The full target with the state written at (written, tp), then greedy steps with no hook.
                let hooks = HookSet()
                hooks.replace(.residPost(written), positions: [tp], with: state, batch: 0)
                var cache = model.makeCache()
                var logits = try model.prefill(target, cache: &cache, hooks: hooks)
                var ids: [Int] = []
                for step in 0..<4 {
                    let id = Sampler.argmax(logits)
                    ids.append(id)
                    if step == 0 {
                        let m = Double(logits.max()!)
                        let p = exp(Double(logits[id]) - m) / logits.reduce(0.0) { $0 + exp(Double($1) - m) }
                        XCTAssertEqual(Double(row.top[0].probability), p, accuracy: 1e-4, "layer \(l)")
                    }
                    logits = try model.prefill([id], cache: &cache)
                }
                XCTAssertEqual(row.generatedIDs, ids, "layer \(l), target \(targetLayer)")
            }
        }
    }
}
