import Foundation
import Transformer

// MARK: - Options

/// What a patched run is scored by, at the last position.
public enum PatchingMetric: Sendable, Equatable {
    /// p(answer) after softmax.
    case probability(answer: Int)
    /// logit(answer) − logit(against).
    case logitDifference(answer: Int, against: Int)

    /// The score of one row of last-position logits.
    public func value(_ logits: ArraySlice<Float>) -> Double {
        let start = logits.startIndex
        switch self {
        case .probability(let answer): return Softmax.probability(logits, at: answer)
        case .logitDifference(let answer, let against):
            return Double(logits[start + answer]) - Double(logits[start + against])
        }
    }

    /// "p(answer)" or "logit difference", for messages.
    public var name: String {
        switch self {
        case .probability: return "p(answer)"
        case .logitDifference: return "logit difference"
        }
    }

    var tokens: [Int] {
        switch self {
        case .probability(let a): return [a]
        case .logitDifference(let a, let b): return [a, b]
        }
    }
}

// MARK: - Result

/// Restoring clean activations one (layer, position) at a time into a corrupted run.
public struct PatchingResult: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case activationPatching = "activation_patching", causalTracing = "causal_tracing", attributionPatching = "attribution_patching"
    }

    public var kind: Kind
    public var hook: HookSite
    public var metric: PatchingMetric
    public var layers: [Int]
    public var positions: [Int]
    /// The clean prompt's ids and token texts (every position).
    public var cleanIDs: [Int]
    public var cleanTokens: [String]
    /// The corrupt prompt's ids and texts (for tracing: the same prompt, with noise on `subjectPositions`).
    public var corruptIDs: [Int]
    public var corruptTokens: [String]
    public var subjectPositions: [Int]
    /// The metric of the clean run and of the corrupted run (for tracing: the mean over samples).
    public var cleanValue: Double
    public var corruptValue: Double
    /// `raw[i][j]`: the metric with `layers[i]` restored at `positions[j]`.
    public var raw: [[Double]]
    /// `(raw − corrupt) / (clean − corrupt)`: 0 = no better than corrupt, 1 = fully clean.
    public var normalized: [[Double]]
    /// Consecutive layers restored at once around each layer (1: each layer alone).
    public var window: Int = 1
}

// MARK: - Activation patching

/// Activation patching (causal mediation, Meng et al. 2022; Heimersheim & Nanda 2024): run a
/// corrupt prompt, restore the clean activation at one (layer, position), and see how much of the
/// clean answer comes back.
///
/// Work done once, in one batch: the clean run (its activations at every selected site) and the
/// corrupt run (its KV cache and residual streams). Each restoration then resumes the corrupt run at the patched
/// layer and position, all of them batched into one pass (see `Restoration`).
public enum ActivationPatching {
    /// Patches `hook` of every (layer, position); `layers`/`positions` default to all.
    public static func run(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, hook: HookSite = .residPre,
                           layers: [Int]? = nil, positions: [Int]? = nil, tokenizer: Tokenizer? = nil,
                           context: TaskContext = .none) throws -> PatchingResult {
        let (layers, positions) = try Check.patchingGrid(model.config, clean: clean, corrupt: corrupt, metric: metric,
                                                         layers: layers, positions: positions, tokenizer: tokenizer)
        let label = { (ids: [Int]) in ids.map { TokenScore.label($0, tokenizer) } }

        // Positions before the first differing token see the same inputs in both runs.
        let identical = zip(clean, corrupt).prefix { $0 == $1 }.count
        let (cleanValue, corruptValue, raw) = try Restoration.measure(
            model: model, clean: clean, corrupt: corrupt, noise: nil, samples: 1, identicalPrefix: identical, hook: hook,
            layers: layers, positions: positions, metric: metric, context: context)
        return PatchingResult(kind: .activationPatching, hook: hook, metric: metric, layers: layers, positions: positions,
                              cleanIDs: clean, cleanTokens: label(clean), corruptIDs: corrupt, corruptTokens: label(corrupt),
                              subjectPositions: [], cleanValue: cleanValue, corruptValue: corruptValue, raw: raw,
                              normalized: Restoration.normalize(raw, clean: cleanValue, corrupt: corruptValue))
    }

    /// The id of a one-token answer such as " Paris", or an error showing how it tokenises.
    public static func answerToken(_ text: String, tokenizer: Tokenizer) throws -> Int {
        let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
        guard ids.count == 1, let id = ids.first else {
            throw AnalysisError.answerNotOneToken(text: text, pieces: ids.map { tokenizer.piece($0) })
        }
        return Int(id)
    }
}

extension Check {
    /// A clean/corrupt pair of the same length, a metric within the vocabulary, and the grid's
    /// layers and positions (all of them when not given), each checked against the model.
    static func patchingGrid(_ config: ModelConfig, clean: [Int], corrupt: [Int], metric: PatchingMetric,
                             layers: [Int]?, positions: [Int]?, tokenizer: Tokenizer?) throws -> (layers: [Int], positions: [Int]) {
        try prompt(clean)
        try prompt(corrupt)
        guard clean.count == corrupt.count else {
            let label = { (ids: [Int]) in ids.map { TokenScore.label($0, tokenizer) } }
            throw AnalysisError.lengthMismatch(clean: clean.count, corrupt: corrupt.count,
                                               cleanTokens: label(clean), corruptTokens: label(corrupt))
        }
        try Check.metric(metric, config)
        let layers = layers ?? Array(0..<config.layerCount)
        try Check.layers(layers, config)
        return (layers, try Check.positions(positions ?? Array(clean.indices), count: clean.count, role: "clean"))
    }

    static func metric(_ metric: PatchingMetric, _ config: ModelConfig) throws {
        for t in metric.tokens where t < 0 || t >= config.vocabularySize {
            throw AnalysisError.intOutOfRange(name: "answer", value: t, lowest: 0, highest: config.vocabularySize - 1)
        }
    }
}
