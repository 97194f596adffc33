import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

// MARK: - Map value

/// An affine map from one model's (or layer's) `resid_post` to another's, as the session holds it
/// (`M = fit map m1 layer L to m2 layer L2`).
public struct MapValue: ValueContent, Sendable {
    public var map: AffineMap
    public var sourceModel: String
    public var sourcePath: String
    public var targetModel: String
    public var targetPath: String
    /// Where the texts came from ("the built-in text sample", "3 texts").
    public var textsLabel: String
    public var forwardPasses: Int
    /// Tokens the forward passes read.
    public var tokens: Int
    /// Time spent in the forward passes and in the least-squares solve (with its scoring).
    public var forwardSeconds: Double
    public var solveSeconds: Double

    public var typeName: String { "Map" }
    public var summary: String {
        "Map \(sourceModel) layer \(map.sourceLayer) → \(targetModel) layer \(map.targetLayer) "
            + "(\(map.inputDim)→\(map.outputDim), held-out R² \(NumberFormat.fixed(3).format(map.explainedVariance)))"
    }

    public func render() -> MimeBundle {
        let f3 = NumberFormat.fixed(3)
        let scoredOn = map.heldOut > 0 ? "held-out" : "fitting (nothing held out)"
        let card = Card(title: "Map \(sourceModel) layer \(map.sourceLayer) → \(targetModel) layer \(map.targetLayer)", [
            ("from", "\(sourceModel) \(HookPoint.residPost(map.sourceLayer).name) (\(map.inputDim) numbers)"),
            ("to", "\(targetModel) \(HookPoint.residPost(map.targetLayer).name) (\(map.outputDim) numbers)"),
            ("weights", "\(map.outputDim) × \(map.inputDim) + bias"),
            ("pairs", "\(map.samples) fitted, \(map.heldOut) held out, from \(textsLabel)"),
            ("R²", "\(f3.format(map.explainedVariance)) (\(scoredOn))"),
            ("mean cosine", "\(f3.format(map.meanCosine)) (\(scoredOn))"),
            ("ridge", "\(NumberFormat.general.format(map.ridge)) (λ = \(NumberFormat.general.format(map.lambda)); shrinks toward \(map.towardIdentity ? "W = I" : "W = 0"))"),
            ("cost", "\(forwardPasses) forward passes over \(tokens) tokens in \(NumberFormat.fixed(2).format(forwardSeconds)) s; "
                + "solve \(NumberFormat.fixed(2).format(solveSeconds)) s"),
        ], kind: "map")
        var bundle = card.mimeBundle
        bundle.json = appending(card.json, [
            ("source_model", .string(sourceModel)), ("target_model", .string(targetModel)),
            ("source_layer", .int(map.sourceLayer)), ("target_layer", .int(map.targetLayer)),
            ("input_dim", .int(map.inputDim)), ("output_dim", .int(map.outputDim)),
            ("pairs", .int(map.samples)), ("held_out", .int(map.heldOut)),
            ("r2", .num(map.explainedVariance)), ("mean_cosine", .num(map.meanCosine)),
            ("ridge", .num(map.ridge)), ("lambda", .num(map.lambda)), ("toward_identity", .bool(map.towardIdentity)),
            ("forward_passes", .int(forwardPasses)), ("tokens", .int(tokens)),
            ("forward_seconds", .num(forwardSeconds)), ("solve_seconds", .num(solveSeconds)),
        ])
        return bundle
    }
}

extension Value {
    /// The map a `Map` value holds, if it is one.
    var mapValue: MapValue? {
        if case .object(let content as MapValue) = self { return content }
        return nil
    }
}

// MARK: - Fitting texts

/// The texts a map or a lens is fitted on: the built-in sample unless the user gave some.
struct FitTexts {
    var texts: [String]
    var label: String

    /// The built-in sample, run in passages of eight sentences (one forward pass each; the
    /// states then carry some context, as in running text).
    static let sample = FitTexts(texts: passages(TextSample.sentences, size: 8), label: "the built-in text sample")

    /// Every eighth sentence of the sample, one text each (what `lenses` reads by default).
    static let sampleSentences = FitTexts(texts: stride(from: 0, to: TextSample.sentences.count, by: 8).map { TextSample.sentences[$0] },
                                          label: "every eighth sentence of the built-in text sample")

    static func passages(_ sentences: [String], size: Int) -> [String] {
        stride(from: 0, to: sentences.count, by: size).map { sentences[$0..<min(sentences.count, $0 + size)].joined(separator: " ") }
    }

    /// `on TEXTS`: a string, a list of strings or prompts, or a Dataset; absent means the sample.
    static func from(_ arguments: BoundArguments, _ name: String) throws -> FitTexts {
        guard let value = arguments.value(name) else { return sample }
        func text(_ v: Value) -> String? {
            switch v {
            case .string(let s): return s
            case .object(let p as PromptValue): return p.text
            default: return nil
            }
        }
        var texts: [String]
        switch value {
        case .list(let items):
            texts = []
            for item in items {
                guard let t = text(item) else {
                    throw CommandError.typeMismatch(parameter: name, verb: arguments.verb, expected: "a list of texts or a Dataset",
                                                    given: "a list holding \(withArticle(item.typeName))", range: arguments.range(of: name))
                }
                texts.append(t)
            }
        case .object(let d as DatasetValue): texts = d.dataset.texts
        default:
            guard let t = text(value) else {
                throw CommandError.typeMismatch(parameter: name, verb: arguments.verb, expected: "a list of texts or a Dataset",
                                                given: withArticle(value.typeName), range: arguments.range(of: name))
            }
            texts = [t]
        }
        texts = texts.filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        guard !texts.isEmpty else {
            throw CommandError.noText(parameter: name, range: arguments.range(of: name))
        }
        return FitTexts(texts: texts, label: texts.count == 1 ? "1 text" : "\(texts.count) texts")
    }
}

// MARK: - Models named on either side

extension VerbArguments {
    /// The model of a `model`/`target_model` argument: a Model variable or a loaded model's name;
    /// `fallback` when absent.
    static func model(_ arguments: BoundArguments, _ name: String, session: Session, fallback: LoadedModel) throws -> LoadedModel {
        guard let word = arguments.word(name) else { return fallback }
        let range = arguments.range(of: name)
        if let model = session.variables[word]?.loadedModel { return model }
        let store = session.models
        if let model = store.model(named: word) { return model }
        let loaded = store.models.map(\.name)
        let variables = session.modelVariableNames
        throw CommandError.unknownModel(word, suggestions: suggestions(for: word, among: variables + loaded), loaded: loaded,
                                        variables: variables, range: range)
    }
}

// MARK: - Maps fitted in the session

/// Maps fitted by `map fit` (per source layer), kept for the session so a second sweep does not
/// fit them again. Keyed by both files, both layers and the ridge.
final class MapCache {
    struct Key: Hashable {
        var sourcePath: String
        var sourceLayer: Int
        var targetPath: String
        var targetLayer: Int
        var ridge: Double
    }
    private(set) var maps: [Key: AffineMap] = [:]

    func lookup(_ key: Key) -> AffineMap? { maps[key] }
    func store(_ map: AffineMap, for key: Key) { maps[key] = map }

    /// The maps for `pairs` of (source layer, target layer), fitting the missing ones on the
    /// built-in sample in one collection of states.
    func maps(source: LoadedModel, target: LoadedModel, pairs: [(Int, Int)], ridge: Double = FitCommand.defaultRidge,
              task: TaskContext) throws -> [AffineMap] {
        let keys = pairs.map { Key(sourcePath: source.path, sourceLayer: $0.0, targetPath: target.path, targetLayer: $0.1, ridge: ridge) }
        let missing = keys.filter { maps[$0] == nil }
        if !missing.isEmpty {
            let texts = FitTexts.sample.texts
            let runs = try PairedRuns.collect(source: source.model, sourceTokenizer: source.tokenizer,
                                              sourceLayers: Array(Set(missing.map(\.sourceLayer))),
                                              target: target.model, targetTokenizer: target.tokenizer,
                                              targetLayers: Array(Set(missing.map(\.targetLayer))), texts: texts,
                                              context: task.stage(0, of: 2, label: "fitting maps: forward passes"))
            for (i, key) in missing.enumerated() {
                try task.checkCancelled()
                let map = try runs.fit(sourceLayer: key.sourceLayer, targetLayer: key.targetLayer, ridge: ridge,
                                       split: FitCommand.defaultSplit)
                maps[key] = map
                task.stage(1, of: 2, label: "fitting maps").report(Double(i + 1) / Double(missing.count), "")
            }
        }
        return keys.compactMap { maps[$0] }
    }
}

enum MapCacheKey: SessionKey { typealias Value = MapCache }

extension Session {
    /// Maps fitted by `map fit` in this session.
    var fittedMaps: MapCache {
        if let cache = self[MapCacheKey.self] { return cache }
        let cache = MapCache()
        self[MapCacheKey.self] = cache
        return cache
    }
}

// MARK: - `map M | map fit`

/// What a patch does with the source state before writing it: nothing, a given Map, or maps
/// fitted now (and kept for the session).
enum MapChoice {
    case none
    case given(MapValue)
    case fit

    /// Reads `map`: absent, `fit`, or a Map variable checked against both models and `pairs`
    /// (source layer, target layer). Two models of different widths need one.
    static func read(_ arguments: BoundArguments, session: Session, source: LoadedModel, target: LoadedModel,
                     pairs: [(Int, Int)]) throws -> MapChoice {
        let range = arguments.range(of: "map")
        guard let word = arguments.word("map") else {
            if source.config.modelDim != target.config.modelDim {
                // The target defaults to the source model, so only a named target can differ; the
                // source may be the current model unnamed, which the user should see.
                throw CommandError.widthMismatch(source: source.name, sourceWidth: source.config.modelDim,
                                                 sourceByDefault: !arguments.has("model"), target: target.name,
                                                 targetWidth: target.config.modelDim, range: arguments.range(of: "target_model"))
            }
            return .none
        }
        if word == "fit" { return .fit }
        guard let value = session.variables[word] else {
            throw CommandError.undefinedVariable(word, suggestions: suggestions(for: word, among: session.variableNames + ["fit"]), range: range)
        }
        guard let map = value.mapValue else {
            throw CommandError.typeMismatch(parameter: "map", verb: arguments.verb, expected: "a Map (from `fit map`) or `fit`",
                                            given: "`\(word)` (\(withArticle(value.typeName)))", range: range)
        }
        guard map.sourcePath == source.path, map.targetPath == target.path else {
            throw CommandError.mapModels(map: word, fittedSource: map.sourceModel, fittedTarget: map.targetModel,
                                         source: source.name, target: target.name, range: range)
        }
        for (s, t) in pairs where map.map.sourceLayer != s || map.map.targetLayer != t {
            throw CommandError.mapLayers(map: word, fittedSource: map.map.sourceLayer, fittedTarget: map.map.targetLayer,
                                         source: s, target: t, range: range)
        }
        return .given(map)
    }

    /// One map per pair, or nil without a map.
    func maps(session: Session, source: LoadedModel, target: LoadedModel, pairs: [(Int, Int)], task: TaskContext) throws -> [AffineMap]? {
        switch self {
        case .none: return nil
        case .given(let value): return pairs.map { _ in value.map }
        case .fit: return try session.fittedMaps.maps(source: source, target: target, pairs: pairs, task: task)
        }
    }
}
