import Interpretability
#if canImport(LlamaCpp)
import LlamaCpp
#endif
import PeriscopeLanguage
import Rendering
import Transformer

/// Everything that can go wrong while binding or running a statement. Each case carries the facts
/// (the name, the value, the valid range, the nearest valid words); `description` alone turns them
/// into a sentence the user can act on, and `range` points into the cell.
public enum CommandError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The statement's head is not a verb (and, if it stands alone, not a variable either).
    case unknownVerb(String, suggestions: [String], range: SourceRange)
    /// A keyword the verb does not take.
    case unknownKeyword(String, verb: String, suggestions: [String], valid: [String], range: SourceRange)
    /// A name that is neither a variable nor a word the slot accepts.
    case undefinedVariable(String, suggestions: [String], range: SourceRange)
    /// A bare word in a slot with a fixed set of words (`hook mlp`) that is neither one of them nor a variable.
    case unknownChoice(String, parameter: String, verb: String, valid: [String], suggestions: [String], range: SourceRange)
    /// An argument of the wrong kind: `expected` describes the kind, `given` what was written.
    case typeMismatch(parameter: String, verb: String, expected: String, given: String, range: SourceRange)
    /// A keyword written without the value it needs.
    case missingValue(keyword: String, verb: String, expected: String, range: SourceRange)
    /// A required positional argument is absent.
    case missingArgument(parameter: String, verb: String, synopsis: String, range: SourceRange)
    /// More positional arguments than the verb takes.
    case unexpectedArgument(given: String, verb: String, synopsis: String, range: SourceRange)
    /// The same keyword twice.
    case duplicateKeyword(String, verb: String, range: SourceRange)
    /// A number outside what the model or prompt allows, e.g. layer 40 of 30.
    case outOfRange(what: String, value: Int, valid: String, range: SourceRange?)
    /// An assignment whose right-hand side produced nothing (`x = print 1`).
    case nothingToAssign(name: String, verb: String, range: SourceRange)
    /// A real number outside what the parameter allows, e.g. a negative temperature.
    case numberOutOfRange(what: String, value: Double, valid: String, range: SourceRange?)
    /// `against` names the same token as `answer`, so a logit difference is always 0.
    case sameAnswerAndAgainst(range: SourceRange?)
    /// Two arguments of which only one may be given.
    case conflictingArguments(String, String, range: SourceRange?)
    /// An assignment to a verb's name (`isVerb`) or to a reserved word.
    case reservedName(String, isVerb: Bool, range: SourceRange)
    /// No model is loaded yet.
    case noModel(range: SourceRange?)
    /// A model name that is neither a loaded model's name (`loaded`) nor a Model variable (`variables`).
    case unknownModel(String, suggestions: [String], loaded: [String], variables: [String], range: SourceRange?)
    /// A hook name that is not a hook point of `model`.
    case unknownHook(String, model: String, suggestions: [String], range: SourceRange?)
    /// A prompt with no text, or whose text (`text`) has no tokens.
    case emptyPrompt(text: String, range: SourceRange?)
    /// A value where a prompt (a string or a Prompt variable) is needed.
    case notAPrompt(given: String, range: SourceRange?)
    /// A text that must be one token (`answer " Paris"`): its pieces and ids, and whether it is
    /// one token with a leading space.
    case notOneToken(keyword: String, text: String, pieces: [String], ids: [Int], spacedIsOneToken: Bool,
                     range: SourceRange?)
    /// A list argument with fewer items than the verb needs (`items` names them, e.g. "prompts").
    case tooFewItems(parameter: String, verb: String, count: Int, needed: Int, items: String, range: SourceRange?)
    /// An item of a list argument of the wrong kind.
    case wrongItem(parameter: String, expected: String, given: String, range: SourceRange?)
    /// A list argument whose length must equal another's (one label per prompt).
    case countMismatch(parameter: String, count: Int, expected: Int, item: String, per: String, range: SourceRange?)
    /// A selection of layers or positions that picks nothing (`kind` is "layer" or "position").
    case emptySelection(parameter: String, kind: String, range: SourceRange?)
    /// A range written backwards, e.g. `5..2`.
    case backwardRange(kind: String, from: Int, to: Int, range: SourceRange?)
    /// A selection that must pick exactly one position but picks `count`.
    case notOnePosition(parameter: String, count: Int, range: SourceRange?)
    /// A word that does not occur in the prompt it should locate.
    case textNotInPrompt(String, range: SourceRange?)
    /// A vector whose width is not the model's residual width.
    case vectorWidth(found: Int, model: String, expected: Int, range: SourceRange?)
    /// A generation that does not fit the context window.
    case contextFull(promptTokens: Int, contextLength: Int, range: SourceRange?)
    /// A file name without the extension of the format `what` is written in (`ext` such as ".npy").
    case wrongExtension(what: String, format: String, ext: String, example: String, range: SourceRange?)
    /// `export x hook …` for a value that is exported whole (`typeName`: "Vector", "Heatmap", …).
    case exportedWhole(typeName: String, range: SourceRange?)
    /// A displayed result with nothing to write in `format` ("svg", "csv" or "npy").
    case nothingToExport(typeName: String, format: String, range: SourceRange?)
    /// A probe used as a direction whose data set has `labels` labels, not two.
    case probeNotADirection(labels: Int, range: SourceRange?)
    /// A clean and a corrupt prompt of different lengths (their visible tokens), so positions
    /// do not line up for activation patching.
    case promptLengthMismatch(clean: [String], corrupt: [String], range: SourceRange?)
    /// A `trace` option (`method attribution`, `hook heads`) that needs a corrupt prompt, given with `noise`.
    case needsCorruptPrompt(option: String, range: SourceRange?)
    /// A Vector at block 0's output exported as a llama.cpp control vector, which llama.cpp never
    /// applies there (its control vectors start at block 1).
    case controlVectorAtLayerZero(range: SourceRange?)
    /// A keyword given where it has no effect: it `appliesTo` only another method or mode.
    case inapplicableKeyword(String, appliesTo: String, range: SourceRange?)
    /// A file that cannot be written.
    case cannotWrite(what: String, path: String, reason: String, range: SourceRange?)
    /// An activation the run should have recorded and did not.
    case notRecorded(hook: String, range: SourceRange?)
    /// A catalogue model whose file is not in the model cache.
    case modelNotCached(name: String, title: String, path: String, fetchHint: String, range: SourceRange?)
    /// A word that is neither a catalogue model (`known`) nor an existing file at `path`.
    case unknownModelFile(String, known: [String], suggestions: [String], path: String, range: SourceRange?)
    /// Row `row` (from 1) of an inline data set that is not a `["text", "label"]` pair.
    case badDataRow(row: Int, given: String, range: SourceRange?)
    /// Row `row` (from 1) of an inline data set whose label is neither a string nor an int.
    case badDataLabel(row: Int, given: String, range: SourceRange?)
    /// An array that cannot be written as .npy.
    case npy(NpyError, range: SourceRange?)
    /// An analysis that rejected its input.
    case analysis(AnalysisError, range: SourceRange?)
    /// A data set that cannot be read or used.
    case dataset(DatasetError, range: SourceRange?)
    /// `load ""`: no model name or path at all.
    case emptyModelName(range: SourceRange?)
    /// `load … on` in a build without the llama.cpp backend.
    case noLlamaBackend(range: SourceRange?)
    /// A file that must be read and cannot be (`what` it is, and `purpose`, what for).
    case cannotRead(what: String, path: String, purpose: String, range: SourceRange?)
    /// `chat` (or `system`) on a model whose chat template cannot be applied.
    case chatTemplate(model: String, TokenizerError, range: SourceRange?)
    /// A texts argument (`on`) that holds no text once blank ones are dropped.
    case noText(parameter: String, range: SourceRange?)
    /// A fit that holds texts out for scoring (`split` below 1) given a single text.
    case nothingHeldOut(split: Double, parameter: String, range: SourceRange?)
    /// A patch between two models of different residual widths without a map. The target model
    /// is always named in the cell (by default it is the source model); the source model may be
    /// the current one by default (`sourceByDefault`).
    case widthMismatch(source: String, sourceWidth: Int, sourceByDefault: Bool, target: String, targetWidth: Int, range: SourceRange?)
    /// `map M` whose Map was fitted between other models than the patch reads and writes.
    case mapModels(map: String, fittedSource: String, fittedTarget: String, source: String, target: String, range: SourceRange?)
    /// `map M` whose Map was fitted between other layers than the patch reads and writes.
    case mapLayers(map: String, fittedSource: Int, fittedTarget: Int, source: Int, target: Int, range: SourceRange?)
    /// A gradient asked at an attention pattern or score hook, which the backward pass never holds whole.
    case noGradient(hook: String, range: SourceRange?)
    /// `lens … tuned` with a `hook` other than `resid_post`, the only one the tuned lens reads.
    case tunedLensHook(String, range: SourceRange?)
    /// A second string after a Patchscope target other than `attribute` (`keyword` is `into` or
    /// `target`); `targetIsPrompt` when the target itself was a string.
    case strayTemplate(text: String, keyword: String, targetIsPrompt: Bool, range: SourceRange?)
    /// `clear WORD` for a word other than `cache`, the only thing `clear` clears.
    case notClearable(String, range: SourceRange?)
    /// An `attribute` template without its placeholder word.
    case noPlaceholder(text: String, placeholder: Character, range: SourceRange?)
    #if canImport(LlamaCpp)
    /// A llama.cpp placement (a server address, a server) that cannot be used.
    case llamaCpp(LlamaCppError, range: SourceRange?)
    #endif
    /// A probe that kept no weights at its best layer (none is trained without a layer).
    case probeWithoutWeights(range: SourceRange?)
    /// The user interrupted the command.
    case interrupted

    /// Where in the cell the problem is, if known.
    public var range: SourceRange? {
        switch self {
        case .unknownVerb(_, _, let r), .unknownKeyword(_, _, _, _, let r), .undefinedVariable(_, _, let r),
             .unknownChoice(_, _, _, _, _, let r),
             .typeMismatch(_, _, _, _, let r), .missingValue(_, _, _, let r), .missingArgument(_, _, _, let r),
             .unexpectedArgument(_, _, _, let r), .duplicateKeyword(_, _, let r), .nothingToAssign(_, _, let r):
            return r
        case .reservedName(_, _, let r):
            return r
        case .outOfRange(_, _, _, let r), .probeWithoutWeights(let r), .numberOutOfRange(_, _, _, let r),
             .conflictingArguments(_, _, let r), .sameAnswerAndAgainst(let r), .noModel(let r), .unknownModel(_, _, _, _, let r), .unknownHook(_, _, _, let r),
             .emptyPrompt(_, let r), .notAPrompt(_, let r), .notOneToken(_, _, _, _, _, let r), .tooFewItems(_, _, _, _, _, let r),
             .wrongItem(_, _, _, let r), .countMismatch(_, _, _, _, _, let r), .emptySelection(_, _, let r),
             .backwardRange(_, _, _, let r), .notOnePosition(_, _, let r), .textNotInPrompt(_, let r),
             .vectorWidth(_, _, _, let r), .contextFull(_, _, let r), .wrongExtension(_, _, _, _, let r),
             .cannotWrite(_, _, _, let r), .exportedWhole(_, let r), .nothingToExport(_, _, let r),
             .probeNotADirection(_, let r), .controlVectorAtLayerZero(let r), .promptLengthMismatch(_, _, let r), .needsCorruptPrompt(_, let r), .inapplicableKeyword(_, _, let r), .notRecorded(_, let r), .analysis(_, let r), .dataset(_, let r), .npy(_, let r),
             .modelNotCached(_, _, _, _, let r), .unknownModelFile(_, _, _, _, let r), .badDataRow(_, _, let r), .badDataLabel(_, _, let r):
            return r
        case .emptyModelName(let r), .noLlamaBackend(let r), .cannotRead(_, _, _, let r), .chatTemplate(_, _, let r),
             .noText(_, let r), .nothingHeldOut(_, _, let r), .widthMismatch(_, _, _, _, _, let r), .mapModels(_, _, _, _, _, let r),
             .mapLayers(_, _, _, _, _, let r), .noGradient(_, let r), .tunedLensHook(_, let r), .strayTemplate(_, _, _, let r),
             .noPlaceholder(_, _, let r), .notClearable(_, let r):
            return r
        #if canImport(LlamaCpp)
        case .llamaCpp(_, let r):
            return r
        #endif
        case .interrupted:
            return nil
        }
    }

    /// A short stable name for the kind of mistake, e.g. `unknown-keyword` (an editor shows it
    /// beside the message and can filter on it).
    public var code: String {
        switch self {
        case .unknownVerb: return "unknown-verb"
        case .unknownKeyword: return "unknown-keyword"
        case .undefinedVariable: return "undefined-variable"
        case .unknownChoice: return "unknown-choice"
        case .typeMismatch: return "wrong-kind"
        case .missingValue: return "missing-value"
        case .missingArgument: return "missing-argument"
        case .unexpectedArgument: return "unexpected-argument"
        case .duplicateKeyword: return "duplicate-keyword"
        case .outOfRange: return "out-of-range"
        case .nothingToAssign: return "nothing-to-assign"
        case .numberOutOfRange: return "out-of-range"
        case .conflictingArguments: return "conflicting-arguments"
        case .sameAnswerAndAgainst: return "same-answer-and-against"
        case .reservedName: return "reserved-name"
        case .noModel: return "no-model"
        case .unknownModel: return "unknown-model"
        case .unknownHook: return "unknown-hook"
        case .emptyPrompt: return "empty-prompt"
        case .notAPrompt: return "wrong-kind"
        case .notOneToken: return "not-one-token"
        case .tooFewItems: return "too-few-items"
        case .wrongItem: return "wrong-item"
        case .countMismatch: return "count-mismatch"
        case .emptySelection: return "empty-selection"
        case .backwardRange: return "backward-range"
        case .notOnePosition: return "not-one-position"
        case .textNotInPrompt: return "text-not-in-prompt"
        case .vectorWidth: return "vector-width"
        case .contextFull: return "context-full"
        case .wrongExtension: return "wrong-extension"
        case .cannotWrite: return "cannot-write"
        case .exportedWhole: return "exported-whole"
        case .nothingToExport: return "nothing-to-export"
        case .probeNotADirection: return "not-a-direction"
        case .controlVectorAtLayerZero: return "control-vector-layer-zero"
        case .promptLengthMismatch: return "prompt-length-mismatch"
        case .needsCorruptPrompt: return "needs-corrupt-prompt"
        case .inapplicableKeyword: return "inapplicable-keyword"
        case .notRecorded: return "not-recorded"
        case .modelNotCached: return "model-not-cached"
        case .unknownModelFile: return "unknown-model-file"
        case .badDataRow, .badDataLabel: return "bad-data"
        case .npy: return "npy"
        case .analysis: return "analysis"
        case .dataset: return "dataset"
        case .emptyModelName: return "missing-argument"
        case .noLlamaBackend: return "no-llama-backend"
        case .cannotRead: return "cannot-read"
        case .chatTemplate: return "chat-template"
        case .noText: return "no-text"
        case .nothingHeldOut: return "nothing-held-out"
        case .widthMismatch: return "width-mismatch"
        case .mapModels, .mapLayers: return "map-mismatch"
        case .noGradient: return "no-gradient"
        case .tunedLensHook: return "inapplicable-keyword"
        case .strayTemplate: return "unexpected-argument"
        case .noPlaceholder: return "no-placeholder"
        case .notClearable: return "unknown-choice"
        #if canImport(LlamaCpp)
        case .llamaCpp: return "llama-cpp"
        #endif
        case .probeWithoutWeights: return "not-a-direction"
        case .interrupted: return "interrupted"
        }
    }

    public var description: String {
        switch self {
        case .unknownVerb(let word, let suggestions, _):
            return "unknown command `\(word)`" + hint(suggestions, otherwise: ".") + " Type `help` to list the commands."
        case .unknownKeyword(let word, let verb, let suggestions, let valid, _):
            let list = valid.isEmpty ? "`\(verb)` takes no keywords" : "valid keywords: " + valid.joined(separator: ", ")
            return "unknown keyword `\(word)` for `\(verb)`" + hint(suggestions, otherwise: ";") + " " + list + "."
        case .undefinedVariable(let name, let suggestions, _):
            return "`\(name)` is not defined" + hint(suggestions, otherwise: ".") + " Assign it first, e.g. `\(name) = …`."
        case .unknownChoice(let word, let parameter, let verb, let valid, let suggestions, _):
            return "`\(word)` is not a valid `\(parameter)` for `\(verb)`" + hint(suggestions, otherwise: ";")
                + " valid: " + valid.map { "`\($0)`" }.joined(separator: ", ") + "."
        case .typeMismatch(let parameter, let verb, let expected, let given, _):
            return "`\(parameter)` of `\(verb)` expects \(expected), but got \(given)."
        case .missingValue(let keyword, let verb, let expected, _):
            return "keyword `\(keyword)` of `\(verb)` needs a value (\(expected)) after it."
        case .missingArgument(let parameter, let verb, let synopsis, _):
            return "`\(verb)` needs \(parameter); usage: \(synopsis)"
        case .unexpectedArgument(let given, let verb, let synopsis, _):
            return "`\(verb)` does not take the extra argument \(given); usage: \(synopsis)"
        case .duplicateKeyword(let keyword, let verb, _):
            return "keyword `\(keyword)` is given twice to `\(verb)`; keep one."
        case .outOfRange(let what, let value, let valid, _):
            return "\(what) \(value) is out of range; valid: \(valid)."
        case .nothingToAssign(let name, let verb, _):
            return "`\(verb)` produces no value, so there is nothing to assign to `\(name)`."
        case .numberOutOfRange(let what, let value, let valid, _):
            return "`\(what)` must be \(valid), not \(formatFloat(value))."
        case .sameAnswerAndAgainst:
            return "`against` is the same token as `answer`, so their logit difference is always 0; pick another token."
        case .conflictingArguments(let first, let second, _):
            return "Give either \(first) or \(second), not both."
        case .reservedName(let name, let isVerb, _):
            return "`\(name)` is " + (isVerb ? "the name of a command" : "a reserved word") + "; choose another variable name."
        case .noModel:
            return "No model is loaded; run `load \"smollm2\"` (or `load \"path/to/model.gguf\"`) first."
        case .unknownModel(let name, let suggestions, let loaded, let variables, _):
            guard !loaded.isEmpty else {
                return "No loaded model is called \(quoted(name))" + hint(suggestions, otherwise: ";")
                    + " no model is loaded yet; use `load` first."
            }
            var known = "loaded: " + loaded.joined(separator: ", ")
            if !variables.isEmpty { known += "; Model variables: " + variables.joined(separator: ", ") }
            return "No loaded model or Model variable is called \(quoted(name))" + hint(suggestions, otherwise: ";") + " " + known + "."
        case .unknownHook(let name, let model, let suggestions, _):
            return "\(quoted(name)) is not a hook point of \(model)" + hint(suggestions, otherwise: ".")
                + " Hook names look like \"blocks.3.hook_resid_post\"; `hooks` lists them all."
        case .emptyPrompt(let text, _):
            return text.isEmpty ? "The prompt is empty; give some text, e.g. `prompt \"The Eiffel Tower is in\"`."
                                : "The prompt \(quoted(text)) has no tokens; give some text."
        case .notAPrompt(let given, _):
            return "Expected a prompt (a string or a Prompt variable) but got \(given)."
        case .notOneToken(let keyword, let text, let pieces, let ids, let spacedIsOneToken, _):
            guard let first = pieces.first else {
                return "The \(keyword) \(quoted(text)) has no tokens; give one token, e.g. `\(keyword) \" Paris\"`."
            }
            let shown = pieces.map { "[\(visibleToken($0))]" }.joined()
            var sentence = "The \(keyword) \(quoted(text)) is \(ids.count) tokens, \(shown) (ids \(ids.map(String.init).joined(separator: ", "))), "
            sentence += "but it must be one token; use its first token, `\(keyword) \(quoted(first))`"
            if spacedIsOneToken { sentence += ", or with a leading space, `\(keyword) \(quoted(" " + text))`, which is one token" }
            return sentence + "."
        case .tooFewItems(let parameter, let verb, let count, let needed, let items, _):
            if count == 0 { return "`\(parameter)` is an empty list; give at least \(needed == 1 ? "one" : String(needed)) \(needed == 1 ? String(items.dropLast()) : items)." }
            return "`\(verb)` needs at least \(needed) \(items) in `\(parameter)`, but it has \(count); give a longer list."
        case .wrongItem(let parameter, let expected, let given, _):
            return "`\(parameter)` must hold \(expected), but it holds \(given)."
        case .countMismatch(let parameter, let count, let expected, let item, let per, _):
            return "`\(parameter)` must be a list with one \(item) per \(per) (\(expected)), but it has \(count)."
        case .emptySelection(let parameter, let kind, _):
            return "No \(kind)s are selected; give `\(parameter)` an int, a range like 0..29, a list, or `all`."
        case .backwardRange(let kind, let from, let to, _):
            return "The \(kind) range \(from)..\(to) is empty; write the smaller \(kind) first, e.g. \(to)..\(from)."
        case .notOnePosition(let parameter, let count, _):
            return "`\(parameter)` must pick one token here, but it picks \(count); give an int such as -1, or a word of the prompt."
        case .textNotInPrompt(let text, _):
            return "The text \(quoted(text)) does not occur in the prompt; use a word from the prompt or a position number."
        case .vectorWidth(let found, let model, let expected, _):
            return "The vector has \(found) numbers but \(model)'s residual stream has \(expected); make the vector with `direction` on this model."
        case .contextFull(let promptTokens, let contextLength, _):
            return "The prompt has \(promptTokens) tokens and the model's context holds \(contextLength), so at most \(max(contextLength - promptTokens, 0)) new tokens fit; lower `max` or shorten the prompt."
        case .wrongExtension(let what, let format, let ext, let example, _):
            return "\(what.prefix(1).uppercased() + what.dropFirst()) is written as \(format); end the file name with \(ext), e.g. \(quoted(example))."
        case .cannotWrite(let what, let path, let reason, _):
            let because = reason.hasSuffix(".") ? String(reason.dropLast()) : reason
            return "Cannot write the \(what) to \(path): \(because). Check that the folder exists and that you may write there."
        case .exportedWhole(let typeName, _):
            return "\(withArticle(typeName).prefix(1).uppercased() + withArticle(typeName).dropFirst()) is exported whole; drop `hook` (it is for exporting a prompt's activations)."
        case .nothingToExport(let typeName, let format, _):
            let what = withArticle(typeName).prefix(1).uppercased() + withArticle(typeName).dropFirst()
            if format == "svg" { return "\(what) has no chart or heatmap to write as SVG; export it to .csv or .npy instead." }
            return "\(what) holds no \(format == "npy" ? "numbers" : "table") to export; `export` writes heatmaps, tables and charts."
        case .probeNotADirection(let labels, _):
            return "A probe over \(labels) labels has one weight vector per label, so it is no single direction; probe a data set with two labels to use it as a Vector."
        case .promptLengthMismatch(let clean, let corrupt, _):
            let show = { (tokens: [String]) in tokens.map { "[\($0)]" }.joined() }
            return "The clean prompt has \(clean.count) tokens but the corrupt prompt has \(corrupt.count); activation patching needs the same length so that positions line up. Clean: \(show(clean)); corrupt: \(show(corrupt)). Change the corrupt prompt (e.g. pick a subject with as many tokens; `tokens p` shows them) until both have \(clean.count) tokens."
        case .needsCorruptPrompt(let option, _):
            return "Causal tracing restores noised runs exactly, layer by position; `\(option)` needs a corrupt prompt instead of `noise`."
        case .controlVectorAtLayerZero:
            return "llama.cpp adds a control vector `direction.L` to the output of block L and never to block 0's, so a Vector at layer 0 cannot be a control vector; export it to .npy, or take the direction at layer 1 or later."
        case .inapplicableKeyword(let keyword, let appliesTo, _):
            return "`\(keyword)` only applies to \(appliesTo); remove it or use that."
        case .notRecorded(let hook, _):
            return "The run recorded nothing at \(hook); run `clear cache` and try again."
        case .analysis(let error, _):
            return error.description
        case .dataset(let error, _):
            return error.description
        case .npy(let error, _):
            return error.description
        case .modelNotCached(let name, let title, let path, let fetchHint, _):
            return "The model `\(name)` (\(title)) is not in the model cache: \(path) does not exist. To fetch it, \(fetchHint). Set PERISCOPE_HOME if your cache is elsewhere."
        case .unknownModelFile(let word, let known, let suggestions, let path, _):
            return "`\(word)` is neither a known model (" + known.map { "`\($0)`" }.joined(separator: ", ") + ") nor an existing file (\(path))"
                + hint(suggestions, otherwise: ".") + " Give a known name or the path of a .gguf file."
        case .badDataRow(let row, let given, _):
            return "Row \(row) of the inline data set must be a pair [\"text\", \"label\"], but it is \(given)."
        case .badDataLabel(let row, let given, _):
            return "The label of row \(row) must be a string or an int, not \(given)."
        case .emptyModelName:
            return "`load` needs a model name or a GGUF path, e.g. `load \"smollm2\"`."
        case .noLlamaBackend:
            return "This build has no llama.cpp backend: run `make llama` (it builds libllama into .build-llama/), then build again."
        case .cannotRead(let what, let path, let purpose, _):
            return "Cannot read \(what) \(path) \(purpose); check that it exists and that you may read it."
        case .chatTemplate(let model, let error, _):
            return "`chat` cannot be used with \(model): \(error.description)"
        case .noText(let parameter, _):
            return "`\(parameter)` holds no text; give a list of sentences or a Dataset."
        case .nothingHeldOut(let split, let parameter, _):
            return "With one text in `\(parameter)` nothing can be held out to score the fit (`split \(formatFloat(split))`); give more texts, or `split 1` to fit on all of it unscored."
        case .widthMismatch(let source, let sourceWidth, let sourceByDefault, let target, let targetWidth, _):
            return "The source model \(source)\(sourceByDefault ? " (the current model, by default)" : "") has \(sourceWidth)-number states "
                + "but the target model \(target) has \(targetWidth); "
                + "a patch across two widths needs a map: add `map fit`, or fit one with `M = fit map \(asWord(source)) layer L to \(asWord(target)) layer L2` and add `map M`."
        case .mapModels(let map, let fittedSource, let fittedTarget, let source, let target, _):
            return "`\(map)` maps \(fittedSource) to \(fittedTarget), but this patch reads \(source) and writes \(target); "
                + "fit one with `fit map \(asWord(source)) layer L to \(asWord(target)) layer L2`, or use `map fit`."
        case .mapLayers(let map, let fittedSource, let fittedTarget, let source, let target, _):
            return "`\(map)` was fitted from layer \(fittedSource) to layer \(fittedTarget), but this patch reads layer \(source) and writes layer \(target); "
                + "fit one for those layers, or use `map fit`."
        case .noGradient(let hook, _):
            return "\(hook) has no gradient here: the backward pass recomputes attention patterns row by row and never holds them whole. Ask at attn.hook_z, attn.hook_q, attn.hook_k or attn.hook_v."
        case .tunedLensHook(let hook, _):
            return "The tuned lens reads `resid_post` (its translators map each block's output); drop `hook \(hook)` or `tuned`."
        case .strayTemplate(let text, let keyword, let targetIsPrompt, _):
            if targetIsPrompt { return "Only `\(keyword) attribute` takes a second string; remove \(quoted(text))." }
            return "The string \(quoted(text)) has no place here; did you mean `\(keyword) attribute \(quoted(text))`?"
        case .noPlaceholder(let text, let placeholder, _):
            return "The target \(quoted(text)) has no placeholder \(placeholder); write \(placeholder) where the patched subject goes, e.g. \"The capital city of \(placeholder)\"."
        case .notClearable(let word, _):
            return "`clear` only clears the activation cache, not `\(word)`: write `clear cache` (everything) or `clear cache p` (one prompt)."
        #if canImport(LlamaCpp)
        case .llamaCpp(let error, _):
            return error.description
        #endif
        case .probeWithoutWeights:
            return "The probe kept no weights at any layer, so it has no direction to use; probe again with `layers` that select at least one layer."
        case .interrupted:
            return "Interrupted; the session, its variables and the model are unchanged."
        }
    }
}

/// A model's name as a cell can write it: bare when it reads as a name, else quoted.
func asWord(_ name: String) -> String { isName(name) ? name : quoted(name) }

/// `; did you mean `x`?` (or `x` or `y`), or `otherwise` when there is no suggestion.
func hint(_ suggestions: [String], otherwise: String) -> String {
    guard !suggestions.isEmpty else { return otherwise }
    let quoted = suggestions.prefix(3).map { "`\($0)`" }
    return "; did you mean " + quoted.joined(separator: " or ") + "?"
}
