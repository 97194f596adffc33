import Foundation
import XCTest
import Transformer
@testable import Interpretability

/// What qualifies a result: the attention sink found per model, improbable answers and their
/// spelling variants, ROME's window of restored layers, k-fold probes.
final class ResultQualityTests: XCTestCase {
    private func profile() throws -> MassiveActivations {
        let (model, tokenizer) = try AnalysisFixture.load()
        return try MassiveActivations.profile(model: model, calibrationTokens: tokenizer.encode(MassiveActivations.calibrationText).map(Int.init))
    }

    /// SmolLM2 adds no BOS: its first token's resid_post becomes massive in the middle layers
    /// (over a hundred times the median), while a token later in the prompt never is.
    func testTheFirstTokenIsTheSinkAndOthersAreNot() throws {
        let (model, _) = try AnalysisFixture.load()
        let profile = try profile()
        let sinkLayer = try XCTUnwrap(profile.sinkLayer)
        XCTAssertGreaterThan(profile.firstPositionRatio.max() ?? 0, 100)
        let layers = Array(0..<model.config.layerCount)
        let rms = try RMSScan.run(model: model, prompt: try AnalysisFixture.encode("I think that my neighbour is kind"), layers: layers)
        let positions = profile.positions(rms: rms, layers: layers)
        XCTAssertEqual(positions, [0])
        for layer in sinkLayer..<(sinkLayer + 10) {
            XCTAssertGreaterThan(profile.ratio(rms: rms[layer][0], layer: layer), MassiveActivations.threshold, "layer \(layer)")
            XCTAssertLessThan(profile.ratio(rms: rms[layer][3], layer: layer), 5, "layer \(layer)")
        }
    }

    /// A direction from one-token prompts is read at the sink; one from prompts with context is not,
    /// and is far shorter.
    func testDirectionsNameTheirSinkReadings() throws {
        let (model, _) = try AnalysisFixture.load()
        let profile = try profile()
        let single = try Direction.meanDifference(model: model, positive: [AnalysisFixture.encode("Love")],
                                                  negative: [AnalysisFixture.encode("Hate")], layer: 12, profile: profile)
        // "Love" is one token, so its last token is the first; "Hate" is two ("H", "ate").
        XCTAssertEqual(Set(single.massive.map(\.prompt)), [0])
        XCTAssertEqual(Set(single.massive.map(\.position)), [0])
        let context = try Direction.meanDifference(model: model, positive: [AnalysisFixture.encode("I feel love")],
                                                   negative: [AnalysisFixture.encode("I feel hate")], layer: 12, profile: profile)
        XCTAssertTrue(context.massive.isEmpty)
        // The mean over tokens takes position 0 in: named too.
        let mean = try Direction.meanDifference(model: model, positive: [AnalysisFixture.encode("I feel love")],
                                                negative: [AnalysisFixture.encode("I feel hate")], layer: 12, reduction: .mean,
                                                profile: profile)
        XCTAssertEqual(Set(mean.massive.map(\.position)), [0])
    }

    /// Stability leaves the sink out unless told, and refuses a prompt that is nothing but the sink.
    func testStabilityLeavesTheSinkOut() throws {
        let (model, _) = try AnalysisFixture.load()
        let profile = try profile()
        let prompt = try AnalysisFixture.encode("The capital city of France is")
        let r = try Stability.measure(model: model, prompt: prompt, layers: [20], noise: 0.2, samples: 2, seed: 1, profile: profile)
        XCTAssertEqual(r.sinkPositions, [0])
        XCTAssertEqual(r.positions, Array(1..<prompt.count))
        let all = try Stability.measure(model: model, prompt: prompt, layers: [20], noise: 0.2, samples: 2, seed: 1,
                                        positions: Array(prompt.indices), profile: profile)
        XCTAssertEqual(all.positions, Array(prompt.indices))
        XCTAssertGreaterThan(all.layers[0].std, 5 * r.layers[0].std)
        XCTAssertThrowsError(try Stability.measure(model: model, prompt: try AnalysisFixture.encode("Love"), layers: [20], noise: 0.2,
                                                   samples: 2, seed: 1, profile: profile)) { error in
            XCTAssertEqual(error as? AnalysisError, .onlySinkPositions(positions: [0]))
        }
    }

    func testVariantsOfAnAnswer() {
        XCTAssertEqual(AnswerCheck.variants(of: "Rome"), [" Rome", "rome", " rome", "ROME", " ROME"])
        XCTAssertEqual(AnswerCheck.variants(of: " Paris"), ["Paris", "paris", " paris", "PARIS", " PARIS"])
    }

    /// "Rome" without its space is improbable after "… in the city of" where " Rome" is likely.
    func testAnImprobableSpellingIsFlagged() throws {
        let (model, tokenizer) = try AnalysisFixture.load()
        let prompt = try AnalysisFixture.encode("The Colosseum is in the city of")
        let bare = try AnalysisFixture.token("Rome"), spaced = try AnalysisFixture.token(" Rome")
        let checks = try AnswerCheck.check(model: model, prompt: prompt, answers: [("answer", bare), ("against", spaced)],
                                           tokenizer: tokenizer)
        XCTAssertEqual(checks.count, 1)
        let check = try XCTUnwrap(checks.first)
        XCTAssertEqual(check.variant, spaced)
        XCTAssertGreaterThan(check.variantProbability, 10 * check.answerProbability)
        XCTAssertTrue(check.description.contains("answer \" Rome\""), check.description)
    }

    /// With a window, a restoration equals one full pass of the noisy run with the clean activation
    /// written at every layer of the window.
    func testWindowedTracingEqualsHookedFullPasses() throws {
        let (model, _) = try AnalysisFixture.load()
        let prompt = try AnalysisFixture.encode("The Eiffel Tower is in the city of")
        let metric = PatchingMetric.probability(answer: try AnalysisFixture.token(" Paris"))
        let subject = [1, 2, 3], layers = [0, 10, 29], positions = [3, prompt.count - 1], window = 4
        let noise = try CausalTracing.noise(model: model, subject: subject, std: 3, samples: 2, seed: 5)
        for hook in [HookSite.mlpOut, .residPre] {
            let result = try CausalTracing.run(model: model, prompt: prompt, subjectPositions: subject, metric: metric, samples: 2,
                                               seed: 5, hook: hook, layers: layers, positions: positions, window: window)
            let all = Array(0..<model.config.layerCount)
            var clean: [Int: [Int: [Float]]] = [:]
            let recorder = HookSet()
            for l in all {
                recorder.add(hook.point(l)) { view in for p in positions { clean[l, default: [:]][p] = Array(view.row(batch: 0, position: p)) } }
            }
            var caches = [model.makeCache()]
            _ = try model.forward([prompt], caches: &caches, hooks: recorder, logits: .none)
            for (i, l) in layers.enumerated() {
                let span = Restoration.windowLayers(l, window: window, layerCount: model.config.layerCount)
                for (j, p) in positions.enumerated() {
                    var total = 0.0
                    for s in 0..<2 {
                        let hooks = HookSet()
                        noise.install(on: hooks, samples: [s])
                        for w in span { hooks.replace(hook.point(w), positions: [p], with: try XCTUnwrap(clean[w]?[p])) }
                        var c = [model.makeCache()]
                        total += metric.value(try model.forward([prompt], caches: &c, hooks: hooks, logits: .last).data[...])
                    }
                    XCTAssertEqual(result.raw[i][j], total / 2, accuracy: 1e-5, "\(hook.rawValue) layer \(l) position \(p)")
                }
            }
        }
        XCTAssertEqual(Restoration.windowLayers(10, window: 10, layerCount: 30), 5...14)
        XCTAssertEqual(Restoration.windowLayers(1, window: 10, layerCount: 30), 0...5)
        XCTAssertEqual(Restoration.windowLayers(28, window: 10, layerCount: 30), 23...29)
    }

    /// Passes made of whole noise samples, in order, give the same trace as any other split.
    func testPassesBySampleGiveTheSameTrace() throws {
        let (model, _) = try AnalysisFixture.load()
        let prompt = try AnalysisFixture.encode("The Eiffel Tower is in the city of")
        let metric = PatchingMetric.probability(answer: try AnalysisFixture.token(" Paris"))
        let noise = try CausalTracing.noise(model: model, subject: [1, 2, 3], std: 3, samples: 3, seed: 2)
        let layers = [0, 5, 15, 29], positions = Array(prompt.indices)
        let planned = Restoration.plan(count: prompt.count, samples: 3, identicalPrefix: 1, hook: .residPre, layers: layers,
                                       positions: positions, layerCount: model.config.layerCount)
        let chunks = Restoration.chunkBySample(planned, rows: 40)
        XCTAssertEqual(chunks.flatMap(\.0).count, planned.count)
        XCTAssertTrue(chunks.allSatisfy { $0.0.map(\.startLayer) == $0.0.map(\.startLayer).sorted() })
        XCTAssertTrue(chunks.first?.1.hasPrefix("noise sample 1") ?? false, chunks.first?.1 ?? "")
        XCTAssertTrue(chunks.last?.1.contains("3/3") ?? false, chunks.last?.1 ?? "")
        let whole = try Restoration.measure(model: model, clean: prompt, corrupt: prompt, noise: noise, samples: 3, identicalPrefix: 1,
                                            hook: .residPre, layers: layers, positions: positions, metric: metric, context: .none)
        let small = try Restoration.measure(model: model, clean: prompt, corrupt: prompt, noise: noise, samples: 3, identicalPrefix: 1,
                                            hook: .residPre, layers: layers, positions: positions, metric: metric, maxRows: 40,
                                            context: .none)
        for (a, b) in zip(whole.raw.flatMap { $0 }, small.raw.flatMap { $0 }) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    /// K folds cover every row once as held-out, stratified by class.
    func testFoldsCoverEveryRowOnce() throws {
        let labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        let folds = try ProbeSplit.folds(labels: labels, classCount: 2, k: 3, seed: 4)
        XCTAssertEqual(folds.count, 3)
        XCTAssertEqual(folds.flatMap(\.test).sorted(), Array(labels.indices))
        for fold in folds {
            XCTAssertEqual(Set(fold.train).intersection(fold.test), [])
            XCTAssertEqual(fold.train.count + fold.test.count, labels.count)
            XCTAssertEqual(fold.test.filter { labels[$0] == 0 }.count, 2)
        }
        XCTAssertThrowsError(try ProbeSplit.folds(labels: labels, classCount: 2, k: 1, seed: 0))
    }
}
