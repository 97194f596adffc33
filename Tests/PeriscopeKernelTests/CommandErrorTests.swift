import Foundation
import Interpretability
import JupyterKernel
#if canImport(LlamaCpp)
import LlamaCpp
#endif
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
            (.unknownModel("gemma", suggestions: ["g"], loaded: ["smollm2", "gemma3-270m"], variables: ["g", "m"], range: at),
             "No loaded model or Model variable is called \"gemma\"; did you mean `g`? loaded: smollm2, gemma3-270m; Model variables: g, m."),
            (.unknownModel("m2", suggestions: [], loaded: ["smollm2"], variables: [], range: at),
             "No loaded model or Model variable is called \"m2\"; loaded: smollm2."),
            (.unknownModel("m2", suggestions: [], loaded: [], variables: [], range: at),
             "No loaded model is called \"m2\"; no model is loaded yet; use `load` first."),
            (.emptyModelName(range: at), "`load` needs a model name or a GGUF path, e.g. `load \"smollm2\"`."),
            (.noLlamaBackend(range: at),
             "This build has no llama.cpp backend: run `make llama` (it builds libllama into .build-llama/), then build again."),
            (.cannotRead(what: "the model file", path: "/m/x.gguf", purpose: "to key its tuned lens", range: at),
             "Cannot read the model file /m/x.gguf to key its tuned lens; check that it exists and that you may read it."),
            (.chatTemplate(model: "tiny", .noChatTemplate, range: at),
             "`chat` cannot be used with tiny: \(TokenizerError.noChatTemplate.description)"),
            (.noText(parameter: "on", range: at), "`on` holds no text; give a list of sentences or a Dataset."),
            (.nothingHeldOut(split: 0.8, parameter: "on", range: at),
             "With one text in `on` nothing can be held out to score the fit (`split 0.8`); give more texts, or `split 1` to fit on all of it unscored."),
            (.widthMismatch(source: "smollm2", sourceWidth: 576, sourceByDefault: true, target: "gemma3-270m", targetWidth: 640, range: at),
             "The source model smollm2 (the current model, by default) has 576-number states but the target model gemma3-270m has 640; a patch across two widths needs a map: add `map fit`, or fit one with `M = fit map smollm2 layer L to \"gemma3-270m\" layer L2` and add `map M`."),
            (.widthMismatch(source: "gemma3-270m", sourceWidth: 640, sourceByDefault: false, target: "smollm2", targetWidth: 576, range: at),
             "The source model gemma3-270m has 640-number states but the target model smollm2 has 576; a patch across two widths needs a map: add `map fit`, or fit one with `M = fit map \"gemma3-270m\" layer L to smollm2 layer L2` and add `map M`."),
            (.mapModels(map: "M", fittedSource: "smollm2", fittedTarget: "smollm2", source: "gemma3-270m", target: "smollm2", range: at),
             "`M` maps smollm2 to smollm2, but this patch reads gemma3-270m and writes smollm2; fit one with `fit map \"gemma3-270m\" layer L to smollm2 layer L2`, or use `map fit`."),
            (.mapLayers(map: "M", fittedSource: 4, fittedTarget: 8, source: 5, target: 8, range: at),
             "`M` was fitted from layer 4 to layer 8, but this patch reads layer 5 and writes layer 8; fit one for those layers, or use `map fit`."),
            (.noGradient(hook: "blocks.5.attn.hook_pattern", range: at),
             "blocks.5.attn.hook_pattern has no gradient here: the backward pass recomputes attention patterns row by row and never holds them whole. Ask at attn.hook_z, attn.hook_q, attn.hook_k or attn.hook_v."),
            (.tunedLensHook("attn_out", range: at),
             "The tuned lens reads `resid_post` (its translators map each block's output); drop `hook attn_out` or `tuned`."),
            (.strayTemplate(text: "of x", keyword: "into", targetIsPrompt: true, range: at),
             "Only `into attribute` takes a second string; remove \"of x\"."),
            (.strayTemplate(text: "of x", keyword: "target", targetIsPrompt: false, range: at),
             "The string \"of x\" has no place here; did you mean `target attribute \"of x\"`?"),
            (.probeWithoutWeights(range: at),
             "The probe kept no weights at any layer, so it has no direction to use; probe again with `layers` that select at least one layer."),
            (.notClearable("models", range: at),
             "`clear` only clears the activation cache, not `models`: write `clear cache` (everything) or `clear cache p` (one prompt)."),
            (.noPlaceholder(text: "The capital city", placeholder: "x", range: at),
             "The target \"The capital city\" has no placeholder x; write x where the patched subject goes, e.g. \"The capital city of x\"."),
        ]
        for (error, sentence) in cases {
            XCTAssertEqual(error.description, sentence)
            XCTAssertEqual(error.range, at, "\(error) keeps its place in the cell")
        }
    }

    // MARK: Through a cell

    /// Runs `code` in `interpreter`; it must fail with exactly `expected`'s sentence.
    func assertCell(_ interpreter: PeriscopeInterpreter, _ code: String, raises expected: CommandError,
                    file: StaticString = #filePath, line: UInt = #line) {
        let outcome = interpreter.execute(ExecuteRequest(code: code), io: RecordingIO())
        guard case .error(let name, let value, _) = outcome else {
            return XCTFail("expected an error from \(code), got \(outcome)", file: file, line: line)
        }
        XCTAssertEqual(name, "CommandError", code, file: file, line: line)
        XCTAssertEqual(value, expected.description, code, file: file, line: line)
    }

    /// Bad `load` and `clear` cells, which need no model, raise their cases through the kernel.
    func testCellsWithoutAModelRaiseTheirCases() {
        let interpreter = PeriscopeInterpreter()
        assertCell(interpreter, "load \"  \"", raises: .emptyModelName(range: at))
        assertCell(interpreter, "clear models", raises: .notClearable("models", range: at))
        assertCell(interpreter, "use \"nosuch\"", raises: .unknownModel("nosuch", suggestions: [], loaded: [], variables: [], range: at))
        // A path is taken as given, so `on` is checked before any file is read.
        let path = "\"/nowhere/model.gguf\""
        #if canImport(LlamaCpp)
        assertCell(interpreter, "load \(path) on []",
                   raises: .tooFewItems(parameter: "on", verb: "load", count: 0, needed: 1, items: "\"host:port\" servers", range: at))
        assertCell(interpreter, "load \(path) on [\"127.0.0.1:50052\", 50053]",
                   raises: .wrongItem(parameter: "on", expected: "\"host:port\" strings", given: "50053", range: at))
        assertCell(interpreter, "load \(path) on [\"127.0.0.1\"]", raises: .llamaCpp(.badEndpoint("127.0.0.1"), range: at))
        assertCell(interpreter, "load \(path) on \"host:0\"", raises: .llamaCpp(.badEndpoint("host:0"), range: at))
        assertCell(interpreter, "load \(path) on all",
                   raises: .unknownChoice("all", parameter: "on", verb: "load", valid: ["local", "[\"host:port\", …]"],
                                          suggestions: [], range: at))
        assertCell(interpreter, "load \(path) on 3",
                   raises: .typeMismatch(parameter: "on", verb: "load",
                                         expected: "`local` or a list of \"host:port\" strings, e.g. `on [\"127.0.0.1:50052\"]`",
                                         given: "an int", range: at))
        // A near miss of `local` is that word misspelt, not an undefined variable; a variable of
        // that name is still read as one.
        assertCell(interpreter, "load \(path) on locl",
                   raises: .unknownChoice("locl", parameter: "on", verb: "load", valid: ["local", "[\"host:port\", …]"],
                                          suggestions: ["local"], range: at))
        _ = interpreter.execute(ExecuteRequest(code: "locl = \"host:0\""), io: RecordingIO())
        assertCell(interpreter, "load \(path) on locl", raises: .llamaCpp(.badEndpoint("host:0"), range: at))
        #else
        assertCell(interpreter, "load \(path) on local", raises: .noLlamaBackend(range: at))
        assertCell(interpreter, "load \(path) on locl", raises: .noLlamaBackend(range: at))
        #endif
        assertCell(interpreter, "load \(path) on servers",
                   raises: .undefinedVariable("servers", suggestions: [], range: at))
    }

    func testAnUnreadableModelFileCannotKeyATunedLens() {
        assertThrows(.cannotRead(what: "the model file", path: "/nowhere/model.gguf", purpose: "to key its tuned lens", range: nil)) {
            _ = try TunedLensStore.sha256(ofFile: "/nowhere/model.gguf")
        }
    }
}
