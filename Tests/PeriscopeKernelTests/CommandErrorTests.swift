import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer
import XCTest
@testable import PeriscopeKernel

/// CommandError: the checks raise cases that carry the facts (the value, the valid range, the
/// nearest valid words), checked as data; `description` turns each into a sentence, checked as text.
final class CommandErrorTests: XCTestCase {
    let at = SourceRange(start: SourceLocation(line: 1, column: 1, offset: 0), end: SourceLocation(line: 1, column: 2, offset: 1))

    func assertThrows(_ expected: CommandError, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? CommandError, expected, file: file, line: line)
        }
    }

    // MARK: Cases

    func testChecksRaiseTheCaseWithTheFacts() {
        assertThrows(.noModel(range: at)) { _ = try Session().currentModel(range: at) }
        assertThrows(.backwardRange(kind: "layer", from: 5, to: 2, range: at)) {
            _ = try LayerSelection(.range(5, 2), range: at).resolve(layerCount: 30)
        }
        assertThrows(.textNotInPrompt("Rome", range: at)) {
            _ = try PositionSelection(.text("Rome"), range: at).resolve(tokenCount: 4) { _ in nil }
        }
        assertThrows(.emptyPrompt(text: "", range: at)) { _ = try PositionSelection(.last, range: at).resolve(tokenCount: 0) }
        // A word that is neither a catalogue model nor a file, with the nearest catalogue name.
        assertThrows(.unknownModelFile("smollm3", known: ModelCatalog.entries.map(\.name), suggestions: ["smollm2"],
                                       path: ModelCatalog.canonicalPath("smollm3"), range: at)) {
            _ = try ModelStore().resolve("smollm3", range: at)
        }
    }

    func testExportRaisesTheCaseWithTheFacts() {
        let card = Card(title: "t", [("a", "b")], kind: "export")
        assertThrows(.nothingToExport(typeName: "Export", format: "svg", range: at)) {
            _ = try ResultExport.export(parts: [card.mimeBundle], typeName: "Export", path: "/tmp/x.svg", range: at)
        }
        assertThrows(.wrongExtension(what: "an Export", format: "CSV, NumPy (its labels beside it) or SVG", ext: ".csv, .npy or .svg",
                                     example: "result.csv", range: at)) {
            _ = try ResultExport.export(parts: [card.mimeBundle], typeName: "Export", path: "/tmp/x.txt", range: at)
        }
    }

    func testModelSideErrorsKeepTheirCase() {
        let analysis = AnalysisError.intOutOfRange(name: "top", value: 0, lowest: 1, highest: nil)
        assertThrows(.analysis(analysis, range: at)) { _ = try CommandError.catching(at: at) { () throws -> Int in throw analysis } }
        assertThrows(.interrupted) { _ = try CommandError.catching(at: at) { () throws -> Int in throw CancelledError() } }
    }

    // MARK: Wording

    func testDescriptionsAreSentencesWithTheFacts() {
        let cases: [(CommandError, String)] = [
            (.numberOutOfRange(what: "temperature", value: -0.5, valid: "0 (greedy) or more", range: at),
             "`temperature` must be 0 (greedy) or more, not -0.5."),
            (.conflictingArguments("`scale S`", "`scales [..]`", range: at), "Give either `scale S` or `scales [..]`, not both."),
            (.sameAnswerAndAgainst(range: at),
             "`against` is the same token as `answer`, so their logit difference is always 0; pick another token."),
            (.reservedName("lens", isVerb: true, range: at), "`lens` is the name of a command; choose another variable name."),
            (.reservedName("all", isVerb: false, range: at), "`all` is a reserved word; choose another variable name."),
            (.backwardRange(kind: "layer", from: 5, to: 2, range: at), "The layer range 5..2 is empty; write the smaller layer first, e.g. 2..5."),
            (.notOnePosition(parameter: "position", count: 3, range: at),
             "`position` must pick one token here, but it picks 3; give an int such as -1, or a word of the prompt."),
            (.vectorWidth(found: 64, model: "smollm2", expected: 576, range: at),
             "The vector has 64 numbers but smollm2's residual stream has 576; make the vector with `direction` on this model."),
            (.contextFull(promptTokens: 8000, contextLength: 8192, range: at),
             "The prompt has 8000 tokens and the model's context holds 8192, so at most 192 new tokens fit; lower `max` or shorten the prompt."),
            (.tooFewItems(parameter: "P", verb: "project", count: 2, needed: 3, items: "prompts", range: at),
             "`project` needs at least 3 prompts in `P`, but it has 2; give a longer list."),
            (.tooFewItems(parameter: "POS", verb: "direction", count: 0, needed: 1, items: "prompts", range: at),
             "`POS` is an empty list; give at least one prompt."),
            (.countMismatch(parameter: "labels", count: 2, expected: 4, item: "label", per: "prompt", range: at),
             "`labels` must be a list with one label per prompt (4), but it has 2."),
            (.notOneToken(keyword: "answer", text: "Paris", pieces: ["Par", "is"], ids: [7, 8], spacedIsOneToken: true, range: at),
             "The answer \"Paris\" is 2 tokens, [Par][is] (ids 7, 8), but it must be one token; use its first token, `answer \"Par\"`, or with a leading space, `answer \" Paris\"`, which is one token."),
            (.notOneToken(keyword: "answer", text: "", pieces: [], ids: [], spacedIsOneToken: false, range: at),
             "The answer \"\" has no tokens; give one token, e.g. `answer \" Paris\"`."),
            (.unknownModelFile("smollm3", known: ["smollm2", "gemma3"], suggestions: ["smollm2"], path: "/m/smollm3", range: at),
             "`smollm3` is neither a known model (`smollm2`, `gemma3`) nor an existing file (/m/smollm3); did you mean `smollm2`? Give a known name or the path of a .gguf file."),
            (.analysis(.tooFewVectors(count: 1, needed: 2), range: at), AnalysisError.tooFewVectors(count: 1, needed: 2).description),
            (.exportedWhole(typeName: "Heatmap", range: at),
             "A Heatmap is exported whole; drop `hook` (it is for exporting a prompt's activations)."),
            (.nothingToExport(typeName: "Export", format: "svg", range: at),
             "An Export has no chart or heatmap to write as SVG; export it to .csv or .npy instead."),
            (.nothingToExport(typeName: "Card", format: "npy", range: at),
             "A Card holds no numbers to export; `export` writes heatmaps, tables and charts."),
            (.wrongExtension(what: "a Table", format: "CSV, NumPy (its labels beside it) or SVG", ext: ".csv, .npy or .svg",
                             example: "result.csv", range: at),
             "A Table is written as CSV, NumPy (its labels beside it) or SVG; end the file name with .csv, .npy or .svg, e.g. \"result.csv\"."),
            (.cannotWrite(what: "file", path: "/nowhere/x.csv", reason: "No such file or directory.", range: at),
             "Cannot write the file to /nowhere/x.csv: No such file or directory. Check that the folder exists and that you may write there."),
            (.probeNotADirection(labels: 3, range: at),
             "A probe over 3 labels has one weight vector per label, so it is no single direction; probe a data set with two labels to use it as a Vector."),
            (.promptLengthMismatch(clean: ["The", " capital"], corrupt: ["The", " big", " capital"], range: at),
             "The clean prompt has 2 tokens but the corrupt prompt has 3; activation patching needs the same length so that positions line up. Clean: [The][ capital]; corrupt: [The][ big][ capital]. Change the corrupt prompt (e.g. pick a subject with as many tokens; `tokens p` shows them) until both have 2 tokens."),
            (.needsCorruptPrompt(option: "method attribution", range: at),
             "Causal tracing restores noised runs exactly, layer by position; `method attribution` needs a corrupt prompt instead of `noise`."),
            (.controlVectorAtLayerZero(range: at),
             "llama.cpp adds a control vector `direction.L` to the output of block L and never to block 0's, so a Vector at layer 0 cannot be a control vector; export it to .npy, or take the direction at layer 1 or later."),
            (.inapplicableKeyword("steps", appliesTo: "`method integrated_gradients`", range: at),
             "`steps` only applies to `method integrated_gradients`; remove it or use that."),
        ]
        for (error, sentence) in cases {
            XCTAssertEqual(error.description, sentence)
            XCTAssertEqual(error.range, at, "\(error) keeps its place in the cell")
        }
    }
}

