import Foundation
import JupyterKernel
import JupyterProtocol
import XCTest
@testable import PeriscopeKernel

/// The interpretability verbs (lens, attention, patch, patchscope, trace) on the default model,
/// through the interpreter exactly as a notebook cell runs them.
final class InterpVerbsTests: XCTestCase {
    var interpreter: PeriscopeInterpreter!

    override func setUpWithError() throws {
        interpreter = try DefaultModelSession.interpreter(for: Self.self, setup: """
            m = load "smollm2"
            p = prompt "The Eiffel Tower is in the city of"
            clean = prompt "The capital of France is"
            corrupt = prompt "The capital of Italy is"
            """)
    }

    // MARK: Helpers

    @discardableResult
    func run(_ code: String, io: RecordingIO = RecordingIO(), file: StaticString = #filePath, line: UInt = #line)
        -> (ExecuteOutcome, RecordingIO)
    {
        (interpreter.execute(ExecuteRequest(code: code), io: io), io)
    }

    /// The vnd JSON of the cell's execute_result, parsed.
    func payload(_ code: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try interpreter.payload(code, file: file, line: line)
    }

    /// The error message of a failing cell.
    func errorMessage(_ code: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        interpreter.errorMessage(code, file: file, line: line)
    }

    // MARK: Errors

    func testCleanAndCorruptOfDifferentLengthsNameBothLengths() {
        let message = errorMessage("trace \"The capital of France is\" \"The big capital city of Italy is\" answer \" Paris\"")
        XCTAssertTrue(message.contains("5 tokens"), message)
        XCTAssertTrue(message.contains("corrupt prompt has 7"), message)
        XCTAssertTrue(message.contains("same"), message)
    }

    func testAnswerOfSeveralTokensShowsHowItTokenises() {
        let message = errorMessage("trace clean corrupt answer \" Paris is\"")
        XCTAssertTrue(message.contains("2 tokens"), message)
        XCTAssertTrue(message.contains("[·Paris][·is]"), message)
        XCTAssertTrue(message.contains("answer \" Paris\""), message)
    }

    func testLayerOutOfRangeSaysTheValidRange() {
        let message = errorMessage("lens p layers 40")
        XCTAssertTrue(message.contains("40"), message)
        XCTAssertTrue(message.contains("0..29"), message)
        let attention = errorMessage("attention p layer 30")
        XCTAssertTrue(attention.contains("0..29"), attention)
        let head = errorMessage("attention p layer 3 head 9")
        XCTAssertTrue(head.contains("0..8"), head)
    }

    func testPositionPastThePromptIsAnError() {
        let message = errorMessage("patchscope p position 11")
        XCTAssertTrue(message.contains("position 11"), message)
        XCTAssertTrue(message.contains("9 tokens"), message)
    }

    func testAttributeTargetWithoutPlaceholderIsAnError() {
        let message = errorMessage("patchscope p position -1 target attribute \"The capital city of France\"")
        XCTAssertTrue(message.contains("placeholder x"), message)
        let missing = errorMessage("patch source p layer 3 into attribute")
        XCTAssertTrue(missing.contains("The capital city of x"), missing)
    }

    func testTraceNeedsACorruptPromptOrNoise() {
        XCTAssertTrue(errorMessage("trace clean answer \" Paris\"").contains("noise"))
        XCTAssertTrue(errorMessage("trace clean corrupt noise \"France\" answer \" Paris\"").contains("not both"))
        XCTAssertTrue(errorMessage("trace clean noise \"Spain\" answer \" Paris\"").contains("does not occur"))
    }

    func testErrorsLeaveTheSessionUsable() throws {
        _ = errorMessage("lens p layers 99")
        let json = try payload("lens p layers 29 positions -1 top 3")
        XCTAssertEqual(json["layers"] as? [Int], [29])
    }

    // MARK: Lens

    func testLensCoversEveryLayerAndPositionAndAgreesWithRun() throws {
        let lens = try payload("lens p layers all positions all")
        XCTAssertEqual(lens["shape"] as? [Int], [30, 9])
        XCTAssertEqual((lens["row_labels"] as? [String])?.first, "0")
        XCTAssertEqual((lens["column_labels"] as? [String])?.last, "8 ·of")
        let top = try XCTUnwrap(lens["top"] as? [String: Any])
        let ids = try XCTUnwrap(top["ids"] as? [[[Int]]])
        let probs = try XCTUnwrap(top["probs"] as? [[[Double]]])
        let run = try payload("run p top 3")
        let runTop = try XCTUnwrap((run["top"] as? [String: Any])?["ids"] as? [Int])
        let runProbs = try XCTUnwrap((run["top"] as? [String: Any])?["probs"] as? [Double])
        // The lens at the last layer is the model's own output.
        XCTAssertEqual(ids[29][8][0], runTop[0])
        XCTAssertEqual(probs[29][8][0], runProbs[0], accuracy: 1e-3)
        let values = try XCTUnwrap(lens["values"] as? [[Double]])
        XCTAssertEqual(values[29][8], probs[29][8][0], accuracy: 1e-9)
        XCTAssertTrue(values.joined().allSatisfy { $0 > 0 && $0 <= 1 })
    }

    func testLensAtOnePositionIsATopKTablePerLayer() throws {
        let json = try payload("lens p layers 20..29 positions -1 top 4")
        XCTAssertEqual(json["kind"] as? String, "logit_lens_top")
        XCTAssertEqual(json["positions"] as? [Int], [8])
        let rows = try XCTUnwrap(json["rows"] as? [[Any]])
        XCTAssertEqual(rows.count, 10)
        let probs = try XCTUnwrap((json["top"] as? [String: Any])?["probs"] as? [[[Double]]])
        for layer in probs { XCTAssertEqual(layer[0], layer[0].sorted(by: >)) }
    }

    func testLensOnResidPreDiffersFromResidPost() throws {
        let pre = try payload("lens p layers 0 positions 0..3 hook resid_pre")
        let post = try payload("lens p layers 0 positions 0..3")
        XCTAssertEqual(pre["hook"] as? String, "resid_pre")
        XCTAssertNotEqual(pre["values"] as? [[Double]], post["values"] as? [[Double]])
    }

    // MARK: Attention

    func testAttentionRowsAreCausalDistributions() throws {
        let json = try payload("attention p layer 3 head 2")
        XCTAssertEqual(json["shape"] as? [Int], [9, 9])
        let values = try XCTUnwrap(json["values"] as? [[Double]])
        for (q, row) in values.enumerated() {
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-4)
            for k in row.indices where k > q { XCTAssertEqual(row[k], 0) }
        }
        let grid = try payload("attention p layer 3")
        XCTAssertEqual(grid["shape"] as? [Int], [9])
        let panels = try XCTUnwrap(grid["panels"] as? [[String: Any]])
        XCTAssertEqual(panels[2]["values"] as? [[Double]], values)
    }

    /// A long prompt's grid of every head stays well under 1 MB: tiles of tokens pooled by their
    /// maximum, each the largest weight of the single head's pattern in that tile.
    func testAttentionOfALongPromptIsPooledAndCompact() throws {
        run("long = prompt \"" + String(repeating: "The Louvre museum is located in the city of Paris. ", count: 14) + "\"")
        let one = try payload("attention long layer 4 head 2")
        let full = try XCTUnwrap(one["values"] as? [[Double]])
        XCTAssertTrue(one["pooled"] is NSNull)
        let (outcome, io) = run("attention long layer 4")
        XCTAssertEqual(outcome, .ok)
        var bytes = 0
        for case .result(let data) in io.outputs { bytes += data.values.reduce(0) { $0 + $1.serialized().utf8.count } }
        XCTAssertGreaterThan(bytes, 0)
        XCTAssertLessThan(bytes, 500_000)
        let grid = try payload("attention long layer 4")
        let pooled = try XCTUnwrap(grid["pooled"] as? [String: Any])
        let block = try XCTUnwrap(pooled["block"] as? Int)
        XCTAssertGreaterThan(block, 1)
        let panels = try XCTUnwrap(grid["panels"] as? [[String: Any]])
        let values = try XCTUnwrap(panels[2]["values"] as? [[Double]])
        XCTAssertEqual(values.count, (full.count + block - 1) / block)
        for (bq, row) in values.enumerated() {
            for (bk, value) in row.enumerated() {
                let tile = full[(bq * block)..<min(full.count, (bq + 1) * block)].flatMap { $0[(bk * block)..<min(full.count, (bk + 1) * block)] }
                // The single head is shown to 4 decimals (off by up to 5e-5), the grid to 7 significant digits.
                XCTAssertEqual(value, tile.max() ?? -1, accuracy: 5.1e-5)
            }
        }
    }

    // MARK: Patching

    func testTraceIsOneWhereTheCleanTokenIsRestoredAtTheFirstLayer() throws {
        let json = try payload("trace clean corrupt answer \" Paris\" hook resid_pre layers 0..2")
        XCTAssertEqual(json["shape"] as? [Int], [3, 5])
        let values = try XCTUnwrap(json["values"] as? [[Double]])
        // Only " France"/" Italy" (position 3) differs: restoring it before block 0 is the clean run.
        XCTAssertEqual(values[0][3], 1, accuracy: 1e-3)
        for p in [0, 1, 2] { XCTAssertEqual(values[0][p], 0, accuracy: 1e-3) }
        let clean = try XCTUnwrap(json["clean_metric"] as? Double)
        let corrupt = try XCTUnwrap(json["corrupt_metric"] as? Double)
        XCTAssertGreaterThan(clean, corrupt)
    }

    func testTraceWithAgainstMeasuresTheLogitDifference() throws {
        let json = try payload("trace clean corrupt answer \" Paris\" against \" Rome\" layers 0 positions 2..4")
        XCTAssertEqual(json["metric"] as? String, "logit_diff")
        XCTAssertEqual(json["positions"] as? [Int], [2, 3, 4])
        let values = try XCTUnwrap(json["values"] as? [[Double]])
        XCTAssertEqual(values[0][1], 1, accuracy: 1e-3, "restoring position 3 before block 0 is the clean run")
        XCTAssertEqual(values[0][0], 0, accuracy: 1e-3)
        let raw = try XCTUnwrap(json["raw"] as? [[Double]])
        XCTAssertEqual(raw[0][1], try XCTUnwrap(json["clean_metric"] as? Double), accuracy: 1e-3)
    }

    func testCausalTracingNoisesTheSubject() throws {
        let json = try payload("trace clean noise \"France\" answer \" Paris\" samples 2 std 3 seed 1 layers 0..1")
        XCTAssertEqual(json["analysis"] as? String, "causal_tracing")
        XCTAssertEqual(json["shape"] as? [Int], [2, 5])
        let noise = try XCTUnwrap(json["noise"] as? [String: Any])
        XCTAssertEqual(noise["positions"] as? [Int], [3])
        // Restoring the only noised position before block 0 undoes all the noise.
        let values = try XCTUnwrap(json["values"] as? [[Double]])
        XCTAssertEqual(values[0][3], 1, accuracy: 1e-3)
        XCTAssertEqual(values[0][0], 0, accuracy: 1e-3)
    }

    func testPatchscopeSweepDecodesEveryLayer() throws {
        let json = try payload("patchscope p position -1 target identity layers 0..3 generate 3")
        XCTAssertEqual(json["layers"] as? [Int], [0, 1, 2, 3])
        let ids = try XCTUnwrap(json["ids"] as? [[Int]])
        XCTAssertEqual(ids.count, 4)
        XCTAssertTrue(ids.allSatisfy { $0.count == 3 })
        let items = try XCTUnwrap(json["items"] as? [[String: Any]])
        XCTAssertEqual(items.count, 2)
        XCTAssertEqual(items[1]["shape"] as? [Int], [1, 4])
    }

    func testPatchTopKAndGenerateAgreeOnTheFirstToken() throws {
        let top = try payload("patch source p layer 24 position -1 into \"The city of x\" top 3")
        XCTAssertEqual(top["mode"] as? String, "top")
        let probs = try XCTUnwrap(top["probs"] as? [Double])
        XCTAssertEqual(probs.count, 3)
        XCTAssertEqual(probs, probs.sorted(by: >))
        let target = try XCTUnwrap(top["target"] as? [String: Any])
        XCTAssertEqual(target["position"] as? Int, 3, "a prompt target is patched at its last token")
        let generated = try payload("patch source p layer 24 position -1 into \"The city of x\" generate 2")
        XCTAssertEqual((generated["ids"] as? [Int])?.count, 2)
        XCTAssertEqual((generated["ids"] as? [Int])?.first, (top["ids"] as? [Int])?.first)
    }

    func testPatchIntoAnotherLayerAndPosition() throws {
        let json = try payload("patch source p layer 20 position \"Tower\" into \"Tell me about x please\" target_layer 2 target_position 3 top 2")
        XCTAssertEqual(json["source_position"] as? Int, 3)
        XCTAssertEqual(json["target_layer"] as? Int, 2)
        XCTAssertEqual((json["target"] as? [String: Any])?["position"] as? Int, 3)
        let message = errorMessage("patch source p layer 20 into identity target_position 2")
        XCTAssertTrue(message.contains("placeholder"), message)
        XCTAssertTrue(errorMessage("patch source p layer 20 into identity top 3 generate 2").contains("not both"))
    }

    /// After `into`, `layer` and `position` name the target's.
    func testPatchSpecFormLayerAndPositionAfterInto() throws {
        let json = try payload("patch source p layer 20 position \"Tower\" into \"Tell me about x please\" layer 2 position 3 top 2")
        XCTAssertEqual(json["source_position"] as? Int, 3)
        XCTAssertEqual(json["target_layer"] as? Int, 2)
        XCTAssertEqual((json["target"] as? [String: Any])?["position"] as? Int, 3)
        // The source's `layer` still may not be given twice before `into`.
        XCTAssertTrue(errorMessage("patch source p layer 20 layer 3 into identity").contains("layer"))
        // And the target's only once after it.
        XCTAssertTrue(errorMessage("patch source p layer 20 into identity layer 2 target_layer 3").contains("target_layer"))
    }

    func testASweepShowsAProgressBar() throws {
        interpreter.progressDelay = 0
        defer { interpreter.progressDelay = 1 }
        let (outcome, io) = run("patchscope p position -1 layers 0..5 generate 2")
        XCTAssertEqual(outcome, .ok)
        let bars = io.outputs.filter { if case .display(_, let id?, _) = $0 { return id.hasPrefix("periscope-progress") }; return false }
        XCTAssertGreaterThanOrEqual(bars.count, 2, "a first display and at least the final update")
    }

    // MARK: Help

    func testHelpExamplesRun() {
        for verb in ["lens", "attention", "patch", "patchscope"] {
            guard let example = CommandTable.standard[verb]?.example else { return XCTFail("no `\(verb)` in the table") }
            let (outcome, io) = run(example)
            XCTAssertEqual(outcome, .ok, example)
            XCTAssertEqual(io.results.count, 1, example)
        }
        XCTAssertTrue(CommandTable.standard["trace"]?.example.hasPrefix("trace \"") ?? false)
    }

    // MARK: Interruption

    func testInterruptStopsCausalTracingQuicklyAndKeepsTheSession() throws {
        let io = RecordingIO()
        let interruptAt = io.interrupt(after: 0.5)
        let (outcome, _) = run("trace clean noise \"France\" answer \" Paris\" samples 50", io: io)
        let late = Date().timeIntervalSince(interruptAt)
        guard case .error(let name, _, _) = outcome else { return XCTFail("expected an interrupt, got \(outcome)") }
        XCTAssertEqual(name, "KeyboardInterrupt")
        // One restoration batch ends within ~0.1 s on a quiet machine; the bound leaves room for
        // the stalls of a shared host (0.65 s once in a full run) while staying far below the
        // ~6 s the 50-sample trace takes to finish.
        XCTAssertLessThan(late, 1.0, "stopped \(late) s after the interrupt")
        let json = try payload("lens p layers 29 positions -1 top 2")
        XCTAssertEqual(json["layers"] as? [Int], [29])
    }
}

