import Foundation
import Interpretability
import JupyterKernel
import PeriscopeLanguage
import XCTest
@testable import PeriscopeKernel

/// `fit map`, `patch … map`, `patchscope … model` and `lenses` through the interpreter, on the
/// default model (two of its layers stand in for two models).
extension InterpVerbsTests {

    /// The identity preset is the paper's form with the placeholder last.
    func testIdentityPresetPutsThePlaceholderLast() throws {
        let json = try payload("patch source p layer 25 position -1 into identity top 3")
        let target = try XCTUnwrap(json["target"] as? [String: Any])
        XCTAssertEqual(target["text"] as? String, "cat -> cat; 1135 -> 1135; hello -> hello; ?")
        let tokens = try XCTUnwrap(target["tokens"] as? [String])
        XCTAssertEqual(target["position"] as? Int, tokens.count - 1)
    }

    /// A map between two layers displays its sizes, pairs and held-out scores, and a patch uses it
    /// only between the layers it was fitted for.
    func testFitMapAndPatchWithIt() throws {
        let texts = (0..<12).map { "\"\(TextSample.sentences[$0])\"" }.joined(separator: ", ")
        let (outcome, _) = run("M = fit map m layer 4 to m layer 8 on [\(texts)] split 0.75")
        XCTAssertEqual(outcome, .ok)
        let json = try payload("M")
        XCTAssertEqual(json["input_dim"] as? Int, 576)
        XCTAssertEqual(json["output_dim"] as? Int, 576)
        XCTAssertEqual(json["forward_passes"] as? Int, 12)
        let pairs = try XCTUnwrap(json["pairs"] as? Int), heldOut = try XCTUnwrap(json["held_out"] as? Int)
        XCTAssertGreaterThan(pairs, 3 * heldOut / 2)
        XCTAssertGreaterThan(heldOut, 0)
        // One model, one tokenizer without BOS: every token but each text's first makes a pair.
        XCTAssertEqual(json["tokens"] as? Int, pairs + heldOut + 12)
        XCTAssertNotNil(json["forward_seconds"] as? Double)
        XCTAssertNotNil(json["solve_seconds"] as? Double)
        let r2 = try XCTUnwrap(json["r2"] as? Double), cosine = try XCTUnwrap(json["mean_cosine"] as? Double)
        XCTAssertGreaterThan(r2, 0.3)
        XCTAssertLessThan(r2, 1)
        XCTAssertGreaterThan(cosine, 0.5)

        let patched = try payload("patch source p layer 4 position -1 into identity layer 8 map M top 3")
        XCTAssertEqual(patched["mapped"] as? Bool, true)
        XCTAssertEqual(patched["target_layer"] as? Int, 8)
        XCTAssertEqual(errorMessage("patch source p layer 5 position -1 into identity layer 8 map M"),
                       CommandError.mapLayers(map: "M", fittedSource: 4, fittedTarget: 8, source: 5, target: 8, range: nil).description)
        XCTAssertTrue(errorMessage("patch source p layer 4 into identity layer 8 map p").contains("a Map"))
    }

    /// `fit map`'s own checks name the argument and its valid values, before any forward pass.
    func testFitMapRejectsBadArguments() {
        XCTAssertEqual(errorMessage("fit map m layer 4 to m layer 8 ridge -1"),
                       CommandError.numberOutOfRange(what: "ridge", value: -1, valid: "0 or more", range: nil).description)
        XCTAssertEqual(errorMessage("fit map m layer 4 to m layer 8 split 1.5"),
                       CommandError.numberOutOfRange(what: "split", value: 1.5, valid: "above 0 and at most 1 (the share of the texts that fit the map)",
                                                     range: nil).description)
        XCTAssertEqual(errorMessage("fit map m layer 4 to m layer 8 on [\"  \", \"\"]"),
                       CommandError.noText(parameter: "on", range: nil).description)
        XCTAssertEqual(errorMessage("fit map m layer 4 to m layer 8 on \"One sentence only.\""),
                       CommandError.nothingHeldOut(split: 0.8, parameter: "on", range: nil).description)
        XCTAssertEqual(errorMessage("fit map mm layer 4 to m layer 8"),
                       CommandError.unknownModel("mm", suggestions: ["m"], loaded: ["smollm2"], variables: ["m"], range: nil).description)
    }

    /// A Patchscope target's own checks: a preset takes no target position, only `attribute`
    /// takes a template, and the template needs its placeholder.
    func testPatchTargetsRejectStrayArguments() {
        XCTAssertEqual(errorMessage("patch source p layer 4 into identity position 2"),
                       CommandError.inapplicableKeyword("target_position", appliesTo: "a target prompt (a preset target is patched at its placeholder)",
                                                        range: nil).description)
        XCTAssertEqual(errorMessage("patch source p layer 4 into identity \"The capital of x\""),
                       CommandError.strayTemplate(text: "The capital of x", keyword: "into", targetIsPrompt: false, range: nil).description)
        XCTAssertEqual(errorMessage("patch source p layer 4 into \"The city of\" \"The capital of x\""),
                       CommandError.strayTemplate(text: "The capital of x", keyword: "into", targetIsPrompt: true, range: nil).description)
        XCTAssertEqual(errorMessage("patchscope p position -1 target attribute \"The capital city\" layers 3"),
                       CommandError.noPlaceholder(text: "The capital city", placeholder: "x", range: nil).description)
        XCTAssertEqual(errorMessage("patchscope p position -1 target attribute layers 3"),
                       CommandError.missingValue(keyword: "target attribute", verb: "patchscope",
                                                 expected: "a template with the placeholder x, e.g. \"The capital city of x\"",
                                                 range: SourceRange(start: SourceLocation(line: 1, column: 1, offset: 0),
                                                                    end: SourceLocation(line: 1, column: 1, offset: 0))).description)
        XCTAssertEqual(errorMessage("lens p tuned hook resid_pre"), CommandError.tunedLensHook("resid_pre", range: nil).description)
    }

    /// `model` names the models on both sides; an unknown one is an error that lists the loaded ones.
    func testModelsOnBothSides() throws {
        let json = try payload("patchscope p model m position -1 target identity model m layers 20..22 generate 1")
        XCTAssertEqual(json["layers"] as? [Int], [20, 21, 22])
        XCTAssertEqual(json["target_layers"] as? [Int], [20, 21, 22])
        let message = errorMessage("patchscope p model nosuch position -1 layers 3")
        XCTAssertTrue(message.contains("nosuch") && message.contains("smollm2"), message)
    }

    /// `lenses` scores three read-outs per layer; the identity Patchscope and the logit lens agree
    /// with the model at the last layer far more than at the first.
    func testLensesScoresThreeReadOuts() throws {
        let json = try payload("lenses [\"The Eiffel Tower is in the city of Paris.\", \"Water freezes at zero degrees.\"] layers [0, 15, 29]")
        XCTAssertEqual(json["methods"] as? [String], ["logit lens", "tuned lens", "identity Patchscope"])
        let precision = try XCTUnwrap(json["precision"] as? [[Double]])
        XCTAssertEqual(precision.count, 3)
        XCTAssertEqual(precision[0][2], 1, accuracy: 1e-9, "the logit lens at the last layer is the model's own prediction")
        XCTAssertEqual(precision[1][2], 1, accuracy: 1e-9, "the tuned lens's last translator is the identity")
        XCTAssertLessThan(precision[0][0], 0.5)
    }
}

/// Patching between SmolLM2 (576 numbers per state) and Gemma 3 270M (640): without a map the
/// error names each side's model and width and how to fix it; a Map fitted for other models is
/// refused. Only loads the models: every check runs before a forward pass.
final class CrossModelPatchTests: XCTestCase {
    var interpreter: PeriscopeInterpreter!

    override func setUpWithError() throws {
        let gemma = try XCTUnwrap(ModelCatalog.entry(named: "gemma3-270m"))
        guard FileManager.default.fileExists(atPath: ModelCatalog.path(of: gemma)) else {
            throw XCTSkip("Gemma 3 270M is not in the model cache; `make model` fetches it")
        }
        interpreter = try DefaultModelSession.interpreter(for: Self.self, setup: """
            g = load "gemma3-270m"
            m = load "smollm2"
            p = prompt "The Eiffel Tower is in the city of"
            """)
    }

    func testDifferentWidthsWithoutAMapNameBothSides() throws {
        // The source is the current model (smollm2) by default; the target is named.
        XCTAssertEqual(interpreter.errorMessage("patch source p layer 4 into identity model g"),
                       CommandError.widthMismatch(source: "smollm2", sourceWidth: 576, sourceByDefault: true,
                                                  target: "gemma3-270m", targetWidth: 640, range: nil).description)
        // Both named, the other way round, in the sweep.
        XCTAssertEqual(interpreter.errorMessage("patchscope p model g position -1 target identity model m layers 3"),
                       CommandError.widthMismatch(source: "gemma3-270m", sourceWidth: 640, sourceByDefault: false,
                                                  target: "smollm2", targetWidth: 576, range: nil).description)
        // The fix the message suggests is a cell that runs as written (gemma3-270m is quoted).
        let message = interpreter.errorMessage("patch source p layer 4 into identity model g")
        let suggested = try XCTUnwrap(message.components(separatedBy: "`M = fit map ").dropFirst().first?.components(separatedBy: "`").first)
        let texts = (0..<6).map { "\"\(TextSample.sentences[$0])\"" }.joined(separator: ", ")
        let cell = "M = fit map " + suggested.replacingOccurrences(of: "layer L2", with: "layer 6").replacingOccurrences(of: "layer L", with: "layer 4")
            + " on [\(texts)] split 1"
        XCTAssertEqual(interpreter.execute(ExecuteRequest(code: cell), io: RecordingIO()), .ok, cell)
        XCTAssertEqual(try interpreter.payload("M")["output_dim"] as? Int, 640)
        // Left to default, the target is the source model: no map is needed.
        XCTAssertNoThrow(try interpreter.payload("patch source p model g layer 4 into identity top 1"))
    }

    func testAMapFittedForOtherModelsIsRefused() {
        let texts = (0..<6).map { "\"\(TextSample.sentences[$0])\"" }.joined(separator: ", ")
        XCTAssertEqual(interpreter.execute(ExecuteRequest(code: "M = fit map m layer 4 to m layer 8 on [\(texts)] split 1"), io: RecordingIO()), .ok)
        XCTAssertEqual(interpreter.errorMessage("patch source p model g layer 4 into identity model m layer 8 map M"),
                       CommandError.mapModels(map: "M", fittedSource: "smollm2", fittedTarget: "smollm2", source: "gemma3-270m",
                                              target: "smollm2", range: nil).description)
    }
}
