import XCTest
import Transformer
@testable import Interpretability

final class PatchscopeTests: XCTestCase {
    /// The identity-Patchscope sweep over all 30 layers decodes the same 5 greedy tokens per
    /// layer as the reference (patch in the prompt pass; later steps see it through the KV cache).
    func testIdentitySweepMatchesReference() throws {
        let (model, tokenizer) = try AnalysisFixture.load()
        let reference = try LensReference.load().patchscope
        let result = try Patchscope.sweep(model: model, source: reference.source_ids, sourcePosition: reference.source_position,
                                          target: reference.target_ids, targetPosition: reference.placeholder_position,
                                          decoding: .generate(reference.new_tokens), tokenizer: tokenizer)
        XCTAssertEqual(result.rows.map(\.sourceLayer), Array(0..<30))
        XCTAssertEqual(result.rows.map(\.targetLayer), Array(0..<30))
        var mismatched: [Int] = []
        for (l, row) in result.rows.enumerated() where row.generatedIDs != reference.generated[l] {
            mismatched.append(l)
            print("layer \(l): \(row.generatedIDs) \(row.text.debugDescription) vs reference \(reference.generated[l]) \(reference.generated_text[l].debugDescription)")
        }
        XCTAssertEqual(mismatched, [], "layers whose generation differs from the reference")
        XCTAssertEqual(result.rows[0].first?.id, reference.generated[0][0])
    }

    /// The paper's next-token reading: the last token of "The Colosseum is located in the city of"
    /// through the identity target decodes what the reference decodes at every layer, " Rome" from
    /// a middle layer on, with the reference's probabilities.
    func testIdentityNextTokenSweepMatchesReference() throws {
        let (model, tokenizer) = try AnalysisFixture.load()
        let reference = try LensReference.load().patchscope_next_token
        let target = try PatchscopeTarget.identity.tokenize(with: tokenizer)
        XCTAssertEqual(target.ids, reference.target_ids)
        XCTAssertEqual(target.placeholderPosition, reference.placeholder_position)
        let result = try Patchscope.sweep(model: model, source: reference.source_ids, sourcePosition: -1,
                                          target: target.ids, targetPosition: reference.placeholder_position,
                                          decoding: .generate(reference.new_tokens), tokenizer: tokenizer)
        var mismatched: [Int] = []
        for (l, row) in result.rows.enumerated() {
            if row.generatedIDs != reference.generated[l] { mismatched.append(l) }
            XCTAssertEqual(Double(row.first?.probability ?? -1), Double(reference.first_prob[l]), accuracy: 2e-3, "layer \(l)")
        }
        XCTAssertEqual(mismatched, [], "layers whose generation differs from the reference")
        let rome = try AnalysisFixture.token(" Rome")
        let romeLayers = result.rows.filter { $0.generatedIDs.first == rome }.map(\.sourceLayer)
        XCTAssertEqual(romeLayers, Array((romeLayers.first ?? 0)...29), "once read, \" Rome\" stays")
        XCTAssertLessThan(romeLayers.first ?? 30, 29, "the identity Patchscope reads the answer before the last layer")
    }

    /// Batching is exact: a sweep's row equals the single patch at that layer; a different
    /// target layer changes the answer.
    func testSweepRowEqualsSinglePatch() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patchscope
        let sweep = try Patchscope.sweep(model: model, source: reference.source_ids, sourcePosition: reference.source_position,
                                         sourceLayers: [2, 9, 17], target: reference.target_ids,
                                         targetPosition: reference.placeholder_position, decoding: .generate(3))
        let single = try Patchscope.patch(model: model, source: reference.source_ids, sourceLayer: 9,
                                          sourcePosition: reference.source_position, target: reference.target_ids,
                                          targetPosition: reference.placeholder_position, decoding: .generate(3))
        XCTAssertEqual(single.rows.count, 1)
        XCTAssertEqual(sweep.rows[1].generatedIDs, single.rows[0].generatedIDs)
        XCTAssertEqual(sweep.rows[1].top[0].probability, single.rows[0].top[0].probability, accuracy: 1e-4)

        let top = try Patchscope.patch(model: model, source: reference.source_ids, sourceLayer: 9,
                                       sourcePosition: reference.source_position, target: reference.target_ids,
                                       targetPosition: reference.placeholder_position, decoding: .top(4))
        XCTAssertEqual(top.rows[0].top.count, 4)
        XCTAssertEqual(top.rows[0].generatedIDs, [single.rows[0].generatedIDs[0]])
        XCTAssertGreaterThanOrEqual(top.rows[0].top[0].probability, top.rows[0].top[1].probability)
    }

    /// Presets tokenise and find their placeholder's last token; a missing placeholder is an error.
    func testPresetsFindTheirPlaceholder() throws {
        let (_, tokenizer) = try AnalysisFixture.load()
        let identity = try PatchscopeTarget.identity.tokenize(with: tokenizer)
        let position = try XCTUnwrap(identity.placeholderPosition)
        XCTAssertEqual(tokenizer.piece(Int32(identity.ids[position])).trimmingCharacters(in: .whitespaces), "?")
        XCTAssertEqual(position, identity.ids.count - 1, "the placeholder is the last token, as in the paper's next-token prompt")

        let attribute = try PatchscopeTarget.attribute().tokenize(with: tokenizer)
        XCTAssertEqual(attribute.placeholderPosition, attribute.ids.count - 1)
        let description = try PatchscopeTarget.description.tokenize(with: tokenizer)
        XCTAssertEqual(description.placeholderPosition, description.ids.count - 1, "the last \"x\", not the one in \"Syria\"… words")

        XCTAssertThrowsError(try PatchscopeTarget.attribute("The capital city of France").tokenize(with: tokenizer)) { error in
            XCTAssertEqual(error as? AnalysisError, .placeholderMissing(placeholder: "x", prompt: "The capital city of France"))
            XCTAssertTrue("\(error)".contains("does not contain its placeholder \"x\""))
        }
        XCTAssertEqual(PatchscopeTarget.lastStandalone("x", in: "Alexander x is").map { "Alexander x is"[$0] }, "x")
        XCTAssertNil(PatchscopeTarget.lastStandalone("x", in: "Alexander"))
    }

    /// An affine map fitted from layer 4 to layer 12 predicts held-out layer-12 states better
    /// than copying the layer-4 state, and the patch checks the map's layers.
    func testAffineMapFitsAndIsChecked() throws {
        let (model, _) = try AnalysisFixture.load()
        // Enough positions (well over d_model = 576) that least squares generalises.
        let subjects = ["The farmer", "My neighbour", "A young doctor", "The old captain", "Our teacher", "The tired pilot",
                        "A clever student", "The baker", "His sister", "The mayor of the town"]
        let actions = ["carefully repaired the broken fence behind the red barn",
                       "wrote a long letter about the storm that flooded the valley",
                       "bought fresh bread, cheese and apples at the Saturday market",
                       "explained why the river freezes later every winter",
                       "sang an old song while walking home through the quiet forest",
                       "counted 1,250 coins and put them in a green box"]
        let texts = subjects.enumerated().map { i, subject in
            (0..<3).map { j in "\(subject) \(actions[(i + j) % actions.count])." }.joined(separator: " ")
        }
        let ids = try texts.map(AnalysisFixture.encode)
        let map = try AffineMap.fit(model: model, texts: ids, sourceLayer: 4, targetLayer: 12)
        XCTAssertEqual(map.samples, ids.reduce(0) { $0 + $1.count - 1 })
        XCTAssertGreaterThan(map.explainedVariance, 0.5)

        let heldOut = try AnalysisFixture.encode("My grandmother grows tomatoes and beans in her small garden.")
        let run = try model.run(tokens: heldOut, cache: [.residPost(4), .residPost(12)])
        var mappedError = 0.0, copyError = 0.0
        for p in 1..<heldOut.count {
            let x = try XCTUnwrap(run.activations.activation(.residPost(4), position: p))
            let y = try XCTUnwrap(run.activations.activation(.residPost(12), position: p))
            let m = map.apply(x)
            for i in y.indices {
                mappedError += Double((m[i] - y[i]) * (m[i] - y[i]))
                copyError += Double((x[i] - y[i]) * (x[i] - y[i]))
            }
        }
        XCTAssertLessThan(mappedError, copyError * 0.9, "the map should beat the identity on held-out text")

        let reference = try LensReference.load().patchscope
        let mapped = try Patchscope.patch(model: model, source: reference.source_ids, sourceLayer: 4,
                                          sourcePosition: reference.source_position, target: reference.target_ids,
                                          targetLayer: 12, targetPosition: reference.placeholder_position,
                                          decoding: .generate(2), map: map)
        XCTAssertTrue(mapped.mapped)
        XCTAssertEqual(mapped.rows[0].targetLayer, 12)
        XCTAssertThrowsError(try Patchscope.patch(model: model, source: reference.source_ids, sourceLayer: 5,
                                                  sourcePosition: 0, target: reference.target_ids, targetLayer: 12,
                                                  targetPosition: 0, map: map)) { error in
            XCTAssertEqual(error as? AnalysisError, .mapLayers(fittedSource: 4, fittedTarget: 12, source: 5, target: 12))
        }
        XCTAssertThrowsError(try AffineMap.fit(model: model, texts: [Array(ids[0].prefix(10))], sourceLayer: 4, targetLayer: 12)) { error in
            guard case .notEnoughFitData = error as? AnalysisError else { return XCTFail("\(error)") }
        }
    }

    func testRejectsBadArguments() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patchscope
        XCTAssertThrowsError(try Patchscope.sweep(model: model, source: reference.source_ids, sourcePosition: 40,
                                                  target: reference.target_ids, targetPosition: -1)) { error in
            XCTAssertEqual(error as? AnalysisError, .positionOutOfRangeIn(role: "source", position: 40, tokenCount: reference.source_ids.count))
        }
        XCTAssertThrowsError(try Patchscope.sweep(model: model, source: reference.source_ids, sourcePosition: 0,
                                                  sourceLayers: [31], target: reference.target_ids, targetPosition: -1))
        XCTAssertThrowsError(try Patchscope.sweep(model: model, source: reference.source_ids, sourcePosition: 0,
                                                  target: reference.target_ids, targetPosition: -1, decoding: .generate(0)))
        XCTAssertThrowsError(try Patchscope.sweep(model: model, source: reference.source_ids, sourcePosition: 0,
                                                  target: reference.target_ids, targetPosition: -1,
                                                  context: TaskContext(isCancelled: { true }))) { error in
            XCTAssertTrue(error is CancelledError)
        }
    }

    /// The generated steps are interruptible between their layers, not only between steps: each
    /// decode step of the batch consults the flag once per block, and a stop inside the last step's
    /// pass throws CancelledError (a step of 30 sequences is ~100 ms, half the interrupt budget).
    func testDecodeStepsCheckForInterruptsBetweenLayers() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patchscope
        func checks(_ steps: Int) throws -> Int {
            let seen = ProgressBox()
            _ = try Patchscope.sweep(model: model, source: reference.source_ids, sourcePosition: -1, sourceLayers: [2, 7],
                                     target: reference.target_ids, targetPosition: -1, decoding: .generate(steps),
                                     context: TaskContext(isCancelled: { seen.add(0); return false }))
            return seen.values.count
        }
        let one = try checks(1), four = try checks(4)
        XCTAssertGreaterThanOrEqual(four - one, 3 * model.config.layerCount)
        let seen = ProgressBox()
        let stopAt = four - model.config.layerCount / 2
        XCTAssertThrowsError(try Patchscope.sweep(model: model, source: reference.source_ids, sourcePosition: -1, sourceLayers: [2, 7],
                                                  target: reference.target_ids, targetPosition: -1, decoding: .generate(4),
                                                  context: TaskContext(isCancelled: { seen.add(0); return seen.values.count >= stopAt }))) { error in
            XCTAssertTrue(error is CancelledError, "\(error)")
        }
    }
}
