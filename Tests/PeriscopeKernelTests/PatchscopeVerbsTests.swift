import Foundation
import Interpretability
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
        let message = errorMessage("patch source p layer 5 position -1 into identity layer 8 map M")
        XCTAssertTrue(message.contains("fitted from layer 4 to layer 8"), message)
        XCTAssertTrue(errorMessage("patch source p layer 4 into identity layer 8 map p").contains("a Map"))
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

