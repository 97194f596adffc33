import Foundation
import JupyterKernel
import JupyterProtocol
import XCTest
@testable import PeriscopeKernel

/// The gradient verbs through the interpreter, as notebook cells run them: `attribute … method`,
/// `gradient` (with show, export and similarity), `trace … method attribution` and `hook heads`.
final class GradientVerbsTests: XCTestCase {
    var interpreter: PeriscopeInterpreter!

    override func setUpWithError() throws {
        interpreter = try DefaultModelSession.interpreter(for: Self.self, setup: """
            load "smollm2"
            p = prompt "The Eiffel Tower is in the city of"
            q = prompt "The Colosseum is in the city of"
            """)
    }

    /// The vnd JSON of the result, or of its first part when it is a group.
    private func payload(_ code: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let json = try interpreter.payload(code, file: file, line: line)
        return ((json["items"] as? [Any])?.first as? [String: Any]) ?? json
    }

    private func errorMessage(_ code: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        interpreter.errorMessage(code, file: file, line: line)
    }

    func testSaliencyAndInputTimesGradientScoreEveryToken() throws {
        let saliency = try payload("attribute p answer \" Paris\" method saliency")
        XCTAssertEqual(saliency["method"] as? String, "saliency")
        let scores = try XCTUnwrap(saliency["scores"] as? [Double])
        XCTAssertEqual(scores.count, 9)
        XCTAssertTrue(scores.allSatisfy { $0 > 0 })
        XCTAssertEqual(saliency["value"] as? Double ?? 0, -0.42, accuracy: 0.01)   // log p(" Paris")
        let ixg = try payload("attribute p answer \" Paris\" against \" Rome\" method input_x_gradient")
        XCTAssertEqual(ixg["metric"] as? String, "logit_diff")
        XCTAssertTrue((ixg["scores"] as? [Double] ?? []).contains { $0 < 0 }, "input × gradient is signed")
    }

    func testIntegratedGradientsReportTheirCompletenessGap() throws {
        let json = try payload("attribute p answer \" Paris\" method integrated_gradients steps 8")
        XCTAssertEqual(json["steps"] as? Int, 8)
        XCTAssertEqual(json["baseline"] as? String, "zero")
        let scores = try XCTUnwrap(json["scores"] as? [Double])
        let value = try XCTUnwrap(json["value"] as? Double), base = try XCTUnwrap(json["baseline_value"] as? Double)
        let gap = try XCTUnwrap(json["completeness_gap"] as? Double)
        XCTAssertEqual(gap, abs(scores.reduce(0, +) - (value - base)) / abs(value - base), accuracy: 1e-4 * max(gap, 1))   // JSON keeps ~6 digits
        let io = RecordingIO()
        XCTAssertEqual(interpreter.execute(ExecuteRequest(code: "attribute p answer \" Paris\" method integrated_gradients steps 8"), io: io), .ok)
        let text = io.outputs.compactMap { if case .result(let d) = $0 { return d["text/plain"]?.serialized() }; return nil }.joined()
        XCTAssertTrue(text.contains("completeness"), text)
        let token = try payload("attribute p answer \" Paris\" method integrated_gradients steps 4 baseline \" the\"")
        XCTAssertNotNil(token["baseline"] as? Int)
    }

    func testGradientIsAValueThatShowExportAndSimilarityAccept() throws {
        XCTAssertEqual(interpreter.execute(ExecuteRequest(code: """
            g = gradient p answer " Paris" hook "blocks.5.hook_resid_pre"
            h = gradient p answer " Paris" against " Rome" hook "blocks.5.hook_resid_pre"
            """), io: RecordingIO()), .ok)
        let shown = try payload("g")
        XCTAssertEqual(shown["shape"] as? [Int], [9, 576])
        XCTAssertEqual((shown["norms"] as? [Double])?.count, 9)
        let path = NSTemporaryDirectory() + "periscope-gradient-\(getpid()).npy"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let export = try payload("export g to \(quoted(path))")
        XCTAssertEqual(export["shape"] as? [Int], [9, 576])
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        // A folder that does not exist: the writer's own case, its reason said once.
        let unwritable = NSTemporaryDirectory() + "periscope-no-such-folder-\(getpid())/g.npy"
        let message = errorMessage("export g to \(quoted(unwritable))")
        XCTAssertTrue(message.hasPrefix("Cannot write \(unwritable): "), message)
        XCTAssertEqual(message.components(separatedBy: "Cannot write").count, 2, message)
        XCTAssertGreaterThan(size, 9 * 576 * 4)
        let similarity = try payload("similarity [g, h]")
        let values = try XCTUnwrap(similarity["values"] as? [[Double]])
        XCTAssertEqual(values[0][0], 1, accuracy: 1e-6)
        XCTAssertLessThan(values[0][1], 1 - 1e-6)
        XCTAssertEqual(errorMessage("gradient p answer \" Paris\" hook \"blocks.5.attn.hook_pattern\""),
                       CommandError.noGradient(hook: "blocks.5.attn.hook_pattern", range: nil).description)
        XCTAssertTrue(errorMessage("gradient p answer \" Paris\" hook \"blocks.50.hook_resid_pre\"").contains("out of range"))
    }

    func testTraceMethodAttributionAndHeads() throws {
        let grid = try payload("trace p q answer \" Paris\" against \" Rome\" hook mlp_out method attribution")
        XCTAssertEqual(grid["analysis"] as? String, "attribution_patching")
        XCTAssertEqual((grid["raw"] as? [[Double]])?.count, 30)
        XCTAssertEqual((grid["raw"] as? [[Double]])?.first?.count, 9)
        let heads = try payload("trace p q answer \" Paris\" against \" Rome\" hook heads layers 0..1")
        XCTAssertEqual(heads["analysis"] as? String, "activation_patching")
        XCTAssertEqual(heads["heads"] as? [Int], Array(0..<9))
        XCTAssertEqual((heads["raw"] as? [[Double]])?.count, 2)
        let estimated = try payload("trace p q answer \" Paris\" against \" Rome\" hook heads layers 0..1 method attribution")
        XCTAssertEqual((estimated["raw"] as? [[Double]])?.first?.count, 9)
        XCTAssertTrue(errorMessage("trace p noise \"Eiffel Tower\" answer \" Paris\" method attribution").contains("corrupt prompt"))
    }

    func testArgumentErrorsSayWhatToDo() {
        XCTAssertTrue(errorMessage("attribute p answer \" Paris\" method saliency steps 8").contains("integrated_gradients"))
        XCTAssertTrue(errorMessage("attribute p answer \" Paris\" against \" Rome\"").contains("`against` only applies to gradient methods"))
        XCTAssertTrue(errorMessage("attribute p answer \" Paris\" baseline zero").contains("`baseline` of `attribute` expects a token given as a string for occlusion"))
        XCTAssertTrue(errorMessage("attribute p answer \" Paris\" method saliency baseline \" the\"").contains("`baseline` only applies to `method integrated_gradients` and occlusion"))
        let badBaseline = errorMessage("attribute p answer \" Paris\" method integrated_gradients baseline 3")
        XCTAssertTrue(badBaseline.contains("`baseline` of `attribute` expects"), badBaseline)
        XCTAssertTrue(errorMessage("trace p answer \" Paris\"").contains("`trace` needs a corrupt prompt after the clean one"))
        XCTAssertTrue(errorMessage("trace p q answer \" Paris\" hook heads positions 0..1").contains("Give either `hook heads`"))
        XCTAssertTrue(errorMessage("attribute p answer \" Paris\" against \" Rome\"").contains("gradient method"))
        XCTAssertTrue(errorMessage("attribute p answer \" Paris\" method integrated_gradients steps 0").contains("steps"))
        XCTAssertTrue(errorMessage("attribute p answer \" Paris\" method saliency baseline \" the\"").contains("baseline"))
        XCTAssertTrue(errorMessage("attribute p answer \" Paris\" method gradients").contains("saliency"))
    }

    func testInterruptStopsIntegratedGradientsAndKeepsTheSession() throws {
        let io = RecordingIO()
        let interruptAt = io.interrupt(after: 0.5)
        let outcome = interpreter.execute(ExecuteRequest(code: "attribute p answer \" Paris\" method integrated_gradients steps 1024"), io: io)
        let late = Date().timeIntervalSince(interruptAt)
        guard case .error(let name, _, _) = outcome else { return XCTFail("expected an interrupt, got \(outcome)") }
        XCTAssertEqual(name, "KeyboardInterrupt")
        XCTAssertLessThan(late, 0.3, "stopped \(late) s after the interrupt")
        XCTAssertEqual((try payload("attribute p answer \" Paris\" method saliency")["scores"] as? [Double])?.count, 9)
    }
}

