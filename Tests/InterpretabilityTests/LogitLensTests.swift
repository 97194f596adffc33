import XCTest
import Transformer
@testable import Interpretability

/// The logit lens against the Hugging Face reference, and its invariants.
final class LogitLensTests: XCTestCase {
    /// Every layer × position top-1 matches transformers; a different top-1 is allowed only where
    /// the reference's two best tokens are within 1e-3 of each other (a near tie).
    func testTopTokenOfEveryCellMatchesReference() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load()
        for lens in reference.lens {
            let result = try LogitLens.run(model: model, prompt: lens.ids, top: 2)
            XCTAssertEqual(result.layers, Array(0..<model.config.layerCount))
            XCTAssertEqual(result.positions, Array(lens.ids.indices))
            var mismatches = 0, maxProbabilityError: Float = 0
            for l in result.layers.indices {
                for p in result.positions.indices {
                    let cell = result.cells[l][p]
                    let nearTie = lens.prob[l][p] - lens.prob2[l][p] < 1e-3
                    if cell[0].id != lens.top1[l][p] {
                        mismatches += 1
                        XCTAssertTrue(nearTie, "\(lens.prompt): layer \(l) position \(p): top-1 \(cell[0].id), reference \(lens.top1[l][p])")
                    } else {
                        maxProbabilityError = max(maxProbabilityError, abs(cell[0].probability - lens.prob[l][p]))
                    }
                }
            }
            XCTAssertLessThan(maxProbabilityError, 2e-3, "\(lens.prompt): top-1 probabilities differ from the reference")
            XCTAssertLessThanOrEqual(mismatches, 2, "\(lens.prompt): \(mismatches) cells disagree with the reference")
        }
    }

    /// The last layer's lens is the model's own prediction at every position.
    func testLastLayerIsTheModelsPrediction() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load()
        let ids = reference.lens[0].ids
        let last = model.config.layerCount - 1
        let result = try LogitLens.run(model: model, prompt: ids, layers: [last])
        let run = try model.run(tokens: ids)
        let vocab = model.config.vocabularySize
        for p in ids.indices {
            let row = Array(run.logits.data[p * vocab..<(p + 1) * vocab])
            XCTAssertEqual(result.cells[0][p][0].id, Sampler.argmax(row), "position \(p)")
        }
        XCTAssertEqual(result.top1IDs[0], reference.lens[0].final_top1)
    }

    /// resid_pre of block l+1 is resid_post of block l, so their lenses agree exactly; resid_mid differs.
    func testHookChoiceReadsTheRightSite() throws {
        let (model, tokenizer) = try AnalysisFixture.load()
        let ids = try LensReference.load().lens[1].ids
        let post = try LogitLens.run(model: model, prompt: ids, layers: [3, 10], top: 3, hook: .residPost, tokenizer: tokenizer)
        let pre = try LogitLens.run(model: model, prompt: ids, layers: [4, 11], top: 3, hook: .residPre, tokenizer: tokenizer)
        XCTAssertEqual(post.cells, pre.cells)
        let mid = try LogitLens.run(model: model, prompt: ids, layers: [4, 11], top: 3, hook: .residMid)
        XCTAssertNotEqual(mid.top1Probabilities, pre.top1Probabilities)
        XCTAssertEqual(post.promptTokens.count, ids.count)
        XCTAssertEqual(post.cells[0][0].count, 3)
        XCTAssertFalse(post.cells[1][0][0].token.hasPrefix("#"), "a tokenizer gives token texts")
    }

    /// Selected positions (negative from the end) and layers come back in the order asked.
    func testSelectionsAndReadingCachedStates() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().lens[0]
        let result = try LogitLens.run(model: model, prompt: reference.ids, layers: [20, 5], positions: [-1, 0])
        XCTAssertEqual(result.layers, [20, 5])
        XCTAssertEqual(result.positions, [reference.ids.count - 1, 0])
        XCTAssertEqual(result.top1IDs[0][0], reference.top1[20][reference.ids.count - 1])
        XCTAssertEqual(result.top1IDs[1][1], reference.top1[5][0])

        let run = try model.run(tokens: reference.ids, cache: [.residPost(12)])
        let last = reference.ids.count - 1
        let state = try XCTUnwrap(run.activations.activation(.residPost(12), position: last))
        let read = try LogitLens.read(model: model, states: [state], top: 1)
        XCTAssertEqual(read[0][0].id, reference.top1[12][last])
    }

    func testRejectsBadLayersPositionsAndTop() throws {
        let (model, _) = try AnalysisFixture.load()
        let ids = try LensReference.load().lens[0].ids
        XCTAssertThrowsError(try LogitLens.run(model: model, prompt: ids, layers: [30])) { error in
            XCTAssertEqual(error as? AnalysisError, .layerOutOfRange(30, layerCount: 30))
            XCTAssertTrue("\(error)".contains("0...29"))
        }
        XCTAssertThrowsError(try LogitLens.run(model: model, prompt: ids, positions: [ids.count])) { error in
            XCTAssertTrue("\(error)".contains("Position \(ids.count) is past"), "\(error)")
        }
        XCTAssertThrowsError(try LogitLens.run(model: model, prompt: ids, top: 0))
        XCTAssertThrowsError(try LogitLens.run(model: model, prompt: [])) { error in
            XCTAssertEqual(error as? AnalysisError, .emptyPrompt)
        }
        XCTAssertThrowsError(try LogitLens.read(model: model, states: [[1, 2, 3]])) { error in
            XCTAssertEqual(error as? AnalysisError, .widthMismatch(expected: 576, found: 3))
        }
    }

    /// A cancelled context stops the lens with CancelledError; progress reaches 1.
    func testCancellationAndProgress() throws {
        let (model, _) = try AnalysisFixture.load()
        let ids = try LensReference.load().lens[0].ids
        XCTAssertThrowsError(try LogitLens.run(model: model, prompt: ids, context: TaskContext(isCancelled: { true }))) { error in
            XCTAssertTrue(error is CancelledError)
        }
        let box = ProgressBox()
        _ = try LogitLens.run(model: model, prompt: ids, context: TaskContext(progress: { f, _ in box.add(f) }))
        XCTAssertEqual(box.values.last ?? 0, 1, accuracy: 1e-9)
        XCTAssertEqual(box.values, box.values.sorted(), "progress never goes backwards")
    }
}

/// Collects progress reports from a TaskContext.
final class ProgressBox: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Double] = []
    func add(_ value: Double) { lock.lock(); list.append(value); lock.unlock() }
    var values: [Double] { lock.lock(); defer { lock.unlock() }; return list }
}
