import XCTest
import Transformer
@testable import Interpretability

final class ActivationPatchingTests: XCTestCase {
    /// Restoring resid_pre, attn_out and mlp_out at every (layer, position) gives the reference's
    /// normalised p(" Paris") within 1e-3.
    func testMatricesMatchReference() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        for (name, expected) in reference.hooks.sorted(by: { $0.key < $1.key }) {
            let hook = try XCTUnwrap(HookSite(rawValue: name))
            let result = try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids,
                                                    metric: .probability(answer: reference.answer_id), hook: hook)
            XCTAssertEqual(result.cleanValue, reference.p_clean, accuracy: 1e-3)
            XCTAssertEqual(result.corruptValue, reference.p_corrupt, accuracy: 1e-3)
            var worst = 0.0
            for l in expected.normalised.indices {
                for p in expected.normalised[l].indices {
                    worst = max(worst, abs(result.normalized[l][p] - expected.normalised[l][p]))
                }
            }
            XCTAssertLessThan(worst, 1e-3, "\(name): largest difference from the reference")
        }
    }

    /// The logit-difference metric (" Paris" − " Rome") on a subset of layers and positions.
    func testLogitDifferenceMatchesReference() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let layers = [0, 7, 15, 29], positions = [3, -1]
        let result = try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids,
                                                metric: .logitDifference(answer: reference.answer_id, against: reference.against_id),
                                                hook: .residPre, layers: layers, positions: positions)
        XCTAssertEqual(result.positions, [3, reference.clean_ids.count - 1])
        XCTAssertEqual(result.cleanValue, reference.logit_diff_clean, accuracy: 2e-3)
        XCTAssertEqual(result.corruptValue, reference.logit_diff_corrupt, accuracy: 2e-3)
        for (i, l) in layers.enumerated() {
            for (j, p) in result.positions.enumerated() {
                XCTAssertEqual(result.raw[i][j], reference.hooks["resid_pre"]!.logit_diff[l][p], accuracy: 2e-3, "layer \(l) position \(p)")
            }
        }
    }

    /// Facts that hold whatever the numbers: a position where both prompts have the same token
    /// and nothing before differs gives 0; resid_pre of layer 0 at the last position restores only
    /// that token, while resid_pre of the first differing token at layer 0 restores everything.
    func testStructuralFacts() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let result = try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids,
                                                metric: .probability(answer: reference.answer_id), layers: [0, 1])
        XCTAssertEqual(reference.clean_ids[0], reference.corrupt_ids[0])
        XCTAssertEqual(result.normalized[0][0], 0, accuracy: 1e-6, "position 0 is the same token in both prompts")
        // Only positions 1...3 differ ("Eiffel Tower" vs "Colosseum"); restoring all of them at layer 0
        // would restore the clean run, so no single one of them alone reaches 1 but the sum is not 0.
        XCTAssertGreaterThan(result.normalized[0][1...3].map { abs($0) }.reduce(0, +), 0.01)
        XCTAssertEqual(result.kind, .activationPatching)
    }

    func testErrorsSayWhatToDo() throws {
        let (model, tokenizer) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let short = Array(reference.corrupt_ids.dropLast())
        XCTAssertThrowsError(try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: short,
                                                        metric: .probability(answer: reference.answer_id))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("clean prompt has 9 tokens"), text)
            XCTAssertTrue(text.contains("corrupt prompt has 8"), text)
            XCTAssertTrue(text.contains("same number of tokens"), text)
        }
        XCTAssertEqual(try ActivationPatching.answerToken(" Paris", tokenizer: tokenizer), reference.answer_id)
        XCTAssertThrowsError(try ActivationPatching.answerToken(" Parisians and Londoners", tokenizer: tokenizer)) { error in
            guard case .answerNotOneToken(let text, let pieces) = error as? AnalysisError else { return XCTFail("\(error)") }
            XCTAssertEqual(text, " Parisians and Londoners")
            XCTAssertGreaterThan(pieces.count, 1)
            XCTAssertTrue("\(error)".contains("must be a single token"))
        }
        XCTAssertThrowsError(try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.clean_ids,
                                                        metric: .probability(answer: reference.answer_id))) { error in
            guard case .noEffect = error as? AnalysisError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids,
                                                        metric: .probability(answer: reference.answer_id), layers: [30]))
        XCTAssertThrowsError(try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids,
                                                        metric: .probability(answer: reference.answer_id), positions: [9]))
    }

    /// Cancellation between batched steps ends the sweep with CancelledError.
    func testCancellationStopsTheSweep() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let counter = ProgressBox()
        let context = TaskContext(isCancelled: { counter.values.count > 40 }, progress: { f, _ in counter.add(f) })
        XCTAssertThrowsError(try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids,
                                                        metric: .probability(answer: reference.answer_id), context: context)) { error in
            XCTAssertTrue(error is CancelledError)
        }
        XCTAssertLessThan(counter.values.last ?? 1, 1)
    }

    /// An interrupt at any point of a sweep whose restorations resume after their block (mlp_out,
    /// resid_post: the last layer's variants start past the last block) throws CancelledError and
    /// leaves nothing broken (this crashed the kernel once, undoing a pass's partial cache rows).
    func testCancellationAtAnyPointOfAResumedSweepThrowsCleanly() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let metric = PatchingMetric.probability(answer: reference.answer_id)
        let last = model.config.layerCount - 1
        for hook in [HookSite.mlpOut, .residPost, .attnOut] {
            let full = try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids,
                                                  metric: metric, hook: hook, layers: [last - 1, last])
            let checks = ProgressBox()
            _ = try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids, metric: metric,
                                           hook: hook, layers: [last - 1, last],
                                           context: TaskContext(isCancelled: { checks.add(0); return false }))
            let total = checks.values.count
            for stop in 1..<total {
                let seen = ProgressBox()
                let context = TaskContext(isCancelled: { seen.add(0); return seen.values.count > stop })
                XCTAssertThrowsError(try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids,
                                                                metric: metric, hook: hook, layers: [last - 1, last], context: context),
                                     "\(hook) stopped at check \(stop) of \(total)") { error in
                    XCTAssertTrue(error is CancelledError, "\(error)")
                }
            }
            // The model is unchanged: the same sweep gives the same matrix.
            let again = try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids,
                                                   metric: metric, hook: hook, layers: [last - 1, last])
            XCTAssertEqual(again.raw, full.raw)
        }
    }
}

final class CausalTracingTests: XCTestCase {
    func testTracingIsSeededAndRestoresTheCleanRun() throws {
        let (model, tokenizer) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let prompt = reference.clean_ids
        let subject = try CausalTracing.subjectPositions("Eiffel Tower", in: prompt, tokenizer: tokenizer)
        XCTAssertEqual(subject, [1, 2, 3])
        let last = prompt.count - 1
        let metric = PatchingMetric.probability(answer: reference.answer_id)
        let a = try CausalTracing.run(model: model, prompt: prompt, subjectPositions: subject, metric: metric, samples: 3,
                                      seed: 7, hook: .residPost, layers: [0, 29], positions: [0, 3, last])
        let b = try CausalTracing.run(model: model, prompt: prompt, subjectPositions: subject, metric: metric, samples: 3,
                                      seed: 7, hook: .residPost, layers: [0, 29], positions: [0, 3, last])
        XCTAssertEqual(a, b, "the same seed reproduces the trace")
        XCTAssertEqual(a.cleanValue, reference.p_clean, accuracy: 1e-3)
        XCTAssertLessThan(a.corruptValue, a.cleanValue, "noise on the subject hurts the answer")
        XCTAssertEqual(a.subjectPositions, [1, 2, 3])
        // Position 0 precedes the subject: clean and noisy states are equal there, restoring does nothing.
        XCTAssertEqual(a.normalized[0][0], 0, accuracy: 1e-6)
        // The last block's output at the last position is what the logits are made of: fully clean.
        XCTAssertEqual(a.normalized[1][2], 1, accuracy: 1e-4)

        let c = try CausalTracing.run(model: model, prompt: prompt, subjectPositions: subject, metric: metric, samples: 3,
                                      seed: 8, hook: .residPost, layers: [0], positions: [3])
        XCTAssertNotEqual(c.corruptValue, a.corruptValue, "another seed draws other noise")
    }

    func testTracingErrors() throws {
        let (model, tokenizer) = try AnalysisFixture.load()
        let prompt = try LensReference.load().patching.clean_ids
        XCTAssertThrowsError(try CausalTracing.subjectPositions("Big Ben", in: prompt, tokenizer: tokenizer)) { error in
            XCTAssertTrue("\(error)".contains("\"Big Ben\" does not occur"), "\(error)")
        }
        XCTAssertThrowsError(try CausalTracing.run(model: model, prompt: prompt, subjectPositions: [1], metric: .probability(answer: 7042),
                                                   samples: 0))
        XCTAssertThrowsError(try CausalTracing.run(model: model, prompt: prompt, subjectPositions: [1], metric: .probability(answer: 7042),
                                                   noise: -1))
        XCTAssertThrowsError(try CausalTracing.run(model: model, prompt: prompt, subjectPositions: [20], metric: .probability(answer: 7042)))
    }
}
