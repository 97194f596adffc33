import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

// MARK: - Shared checks of the interpretability verbs
//
// `lens`, `attention`, `patch`, `patchscope` and `trace` check their arguments here, before any
// model work, so that every mistake points at the argument that caused it (line and column).

enum InterpVerbs {
    /// The single token id of an answer such as `" Paris"`, or an error showing how it tokenises.
    static func singleToken(_ text: String, keyword: String, model: LoadedModel, range: SourceRange?) throws -> Int {
        let ids = model.tokenizer.encode(text, addSpecial: false, parseSpecial: false)
        guard ids.count == 1, let id = ids.first else {
            if ids.isEmpty {
                throw CommandError.failed("The \(keyword) \(quoted(text)) has no tokens; give one token, e.g. `\(keyword) \" Paris\"`.",
                                          range: range)
            }
            let pieces = ids.map { model.tokenizer.piece($0) }
            let shown = pieces.map { "[\(visibleToken($0))]" }.joined()
            let first = pieces.first ?? ""
            var sentence = "The \(keyword) \(quoted(text)) is \(ids.count) tokens, \(shown) (ids \(ids.map { String($0) }.joined(separator: ", "))), "
            sentence += "but it must be one token; use its first token, `\(keyword) \(quoted(first))`"
            if !text.hasPrefix(" ") {
                let spaced = model.tokenizer.encode(" " + text, addSpecial: false, parseSpecial: false)
                if spaced.count == 1 { sentence += ", or with a leading space, `\(keyword) \(quoted(" " + text))`, which is one token" }
            }
            throw CommandError.failed(sentence + ".", range: range)
        }
        return Int(id)
    }

    /// The layers of a `layers` argument (all when absent), checked against the model.
    static func layers(_ arguments: BoundArguments, _ name: String = "layers", model: LoadedModel) throws -> [Int] {
        let selection = arguments.layers(name) ?? LayerSelection(.all)
        let layers = try selection.resolve(layerCount: model.config.layerCount)
        guard !layers.isEmpty else {
            throw CommandError.failed("No layers are selected; give `\(name)` an int, a range like 0..29, a list, or `all`.",
                                      range: arguments.range(of: name))
        }
        return layers
    }

    /// One layer (`layer L`), checked against the model.
    static func layer(_ arguments: BoundArguments, _ name: String, model: LoadedModel) throws -> Int? {
        guard let layer = arguments.int(name) else { return nil }
        let count = model.config.layerCount
        guard layer >= 0, layer < count else {
            throw CommandError.outOfRange(what: "layer", value: layer,
                                          valid: "0..\(count - 1) (the model has \(count) layers)",
                                          range: arguments.range(of: name))
        }
        return layer
    }

    /// The positions of a `positions` argument in `prompt` (`fallback` when absent).
    static func positions(_ arguments: BoundArguments, _ name: String, prompt: PromptValue,
                          fallback: PositionSelection.Kind = .all) throws -> [Int] {
        let selection = arguments.positions(name) ?? PositionSelection(fallback, range: arguments.range(of: name))
        return try selection.resolve(tokenCount: prompt.ids.count, locate: prompt.locate)
    }

    /// Exactly one position of `prompt` (`position I`).
    static func position(_ arguments: BoundArguments, _ name: String, prompt: PromptValue,
                         fallback: PositionSelection.Kind = .last) throws -> Int {
        let list = try positions(arguments, name, prompt: prompt, fallback: fallback)
        guard list.count == 1, let only = list.first else {
            throw CommandError.failed("`\(name)` must pick one token here, but it picks \(list.count); give an int such as -1, or a word of the prompt.",
                                      range: arguments.range(of: name))
        }
        return only
    }

    /// A prompt argument that may also be a bare variable name (for `.name` slots that accept preset words).
    static func prompt(named word: String, session: Session, model: LoadedModel, range: SourceRange) throws -> PromptValue {
        guard let value = session.variables[word] else {
            throw CommandError.undefinedVariable(word, suggestions: suggestions(for: word, among: session.variableNames),
                                                 range: range)
        }
        return try session.prompt(from: value, model: model, range: range)
    }

    // MARK: Labels

    /// Each token made visible, for axis labels.
    static func labels(_ tokens: [String]) -> [String] { tokens.map(visibleToken) }

    /// `"12"` for layer rows.
    static func layerLabels(_ layers: [Int]) -> [String] { layers.map(String.init) }

    /// The prompt as a vnd JSON object.
    static func promptJSON(_ prompt: PromptValue) -> JSONOut {
        .object([("text", .string(prompt.text)), ("chat", .bool(prompt.chat)),
                 ("ids", .array(prompt.ids.map { .int($0) })), ("tokens", .strings(prompt.tokens))])
    }

    /// Top-K lists as `{"ids","tokens","probs","logits"}`, one inner array per list.
    static func scoresJSON(_ lists: [[TokenScore]]) -> JSONOut {
        .object([
            ("ids", .array(lists.map { list in .array(list.map { .int($0.id) }) })),
            ("tokens", .array(lists.map { list in .strings(list.map(\.token)) })),
            ("probs", .array(lists.map { list in .nums(list.map { Double($0.probability) }) })),
            ("logits", .array(lists.map { list in .nums(list.map { Double($0.logit) }) })),
        ])
    }

    /// A rendered result value whose vnd JSON gets `extra` pairs.
    static func result(_ bundle: MimeBundle, json: JSONOut, extra: [(String, JSONOut)], typeName: String,
                       summary: String) -> Value {
        var bundle = bundle
        bundle.data[MimeBundle.periscopeJSON] = appending(json, extra).serialized()
        return .result(RenderedResult(typeName: typeName, summary: summary, bundle: bundle))
    }

    /// Runs model-side work, turning its errors into sentences at the statement (cancellation passes through).
    static func analysis<T>(at range: SourceRange?, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CommandError {
            throw error
        } catch let error as CancelledError {
            throw error
        } catch let error as AnalysisError {
            throw CommandError.failed(error.description, range: range)
        }
    }
}
