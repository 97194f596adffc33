import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

// MARK: - Arguments checked against the model

/// The tokens a metric scores: log p(answer) or p(answer), or the logit difference answer − against.
struct AnswerTokens: Equatable {
    var answer: Int
    var against: Int?

    /// Each token with its keyword, for the notes that flag an improbable answer.
    var labelled: [(String, Int)] { [("answer", answer)] + (against.map { [("against", $0)] } ?? []) }

    /// The metric a gradient is taken of.
    var gradientMetric: GradientMetric {
        against.map { .logitDifference(answer: answer, against: $0) } ?? .logProbability(answer: answer)
    }

    /// The metric activation patching measures.
    var patchingMetric: PatchingMetric {
        against.map { .logitDifference(answer: answer, against: $0) } ?? .probability(answer: answer)
    }
}

/// The checks the analysis verbs share: each reads one argument, checks it against the loaded
/// model (or the prompt) before any model work, and throws an error at that argument's line and
/// column when it does not fit.
enum VerbArguments {
    /// The single token id of an answer such as `" Paris"`, or an error showing how it tokenises.
    static func singleToken(_ text: String, keyword: String, model: LoadedModel, range: SourceRange?) throws -> Int {
        let ids = model.tokenizer.encode(text, addSpecial: false, parseSpecial: false)
        guard ids.count == 1, let id = ids.first else {
            let spaced = text.hasPrefix(" ") ? [] : model.tokenizer.encode(" " + text, addSpecial: false, parseSpecial: false)
            throw CommandError.notOneToken(keyword: keyword, text: text, pieces: ids.map { model.tokenizer.piece($0) },
                                           ids: ids.map(Int.init), spacedIsOneToken: spaced.count == 1, range: range)
        }
        return Int(id)
    }

    /// `answer "tok" [against "tok2"]`, each one token of the model; `against` must differ from
    /// `answer`, or the logit difference would be 0 whatever the model does.
    static func answer(_ arguments: BoundArguments, model: LoadedModel) throws -> AnswerTokens {
        let answer = try singleToken(arguments.string("answer") ?? "", keyword: "answer", model: model, range: arguments.range(of: "answer"))
        let against = try arguments.string("against").map {
            try singleToken($0, keyword: "against", model: model, range: arguments.range(of: "against"))
        }
        if let against, against == answer {
            throw CommandError.sameAnswerAndAgainst(range: arguments.range(of: "against"))
        }
        return AnswerTokens(answer: answer, against: against)
    }

    /// The layers of a `layers` argument (all when absent), checked against the model.
    static func layers(_ arguments: BoundArguments, _ name: String = "layers", model: LoadedModel) throws -> [Int] {
        let selection = arguments.layers(name) ?? LayerSelection(.all)
        let layers = try selection.resolve(layerCount: model.config.layerCount)
        guard !layers.isEmpty else {
            throw CommandError.emptySelection(parameter: name, kind: "layer", range: arguments.range(of: name))
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
            throw CommandError.notOnePosition(parameter: name, count: list.count, range: arguments.range(of: name))
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

    /// The prompts of a `.prompts` argument (one prompt or a list), tokenised for `model`.
    static func prompts(_ arguments: BoundArguments, _ name: String, session: Session, model: LoadedModel) throws -> [PromptValue] {
        guard let value = arguments.value(name) else { return [] }
        let range = arguments.range(of: name)
        if case .list(let items) = value {
            guard !items.isEmpty else {
                throw CommandError.tooFewItems(parameter: name, verb: arguments.verb, count: 0, needed: 1, items: "prompts", range: range)
            }
            return try items.map { try session.prompt(from: $0, model: model, range: range) }
        }
        return [try session.prompt(from: value, model: model, range: range)]
    }

    /// The Vector a `.typed("Vector")` argument holds (a probe gives its direction).
    static func vector(_ arguments: BoundArguments, _ name: String) throws -> VectorValue? {
        guard let value = arguments.value(name) else { return nil }
        if let v = try vector(of: value, range: arguments.range(of: name)) { return v }
        throw CommandError.typeMismatch(parameter: name, verb: arguments.verb, expected: "a Vector (made by `direction`, or a two-label Probe)",
                                        given: withArticle(value.typeName), range: arguments.range(of: name))
    }

    /// A Vector, or a probe's direction; nil for other values.
    static func vector(of value: Value, range: SourceRange?) throws -> VectorValue? {
        switch value {
        case .object(let v as VectorValue): return v
        case .object(let probe as ProbeValue): return try probe.vector(range: range)
        default: return nil
        }
    }

    /// Checks that a vector fits `model` (same width), with a sentence saying what to do otherwise.
    static func check(_ v: VectorValue, fits model: LoadedModel, range: SourceRange?) throws {
        guard v.vector.values.count == model.config.modelDim else {
            throw CommandError.vectorWidth(found: v.vector.values.count, model: model.name, expected: model.config.modelDim, range: range)
        }
    }

    /// A non-negative seed argument (default 0).
    static func seed(_ arguments: BoundArguments) throws -> UInt64 {
        let seed = arguments.int("seed") ?? 0
        guard seed >= 0 else {
            throw CommandError.outOfRange(what: "seed", value: seed, valid: "0 or more", range: arguments.range(of: "seed"))
        }
        return UInt64(seed)
    }
}
