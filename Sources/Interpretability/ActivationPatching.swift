import Foundation
import Transformer

// MARK: - Options

/// The site whose clean activation is restored (TransformerLens `hook_resid_pre`, `hook_attn_out`,
/// `hook_mlp_out`; `resid_post` for causal tracing in the ROME style).
public enum PatchingHook: String, Sendable, CaseIterable {
    case residPre = "resid_pre"
    case attnOut = "attn_out"
    case mlpOut = "mlp_out"
    case residPost = "resid_post"

    /// The hook point of this site in block `layer`.
    public func point(_ layer: Int) -> HookPoint {
        switch self {
        case .residPre: return .residPre(layer)
        case .attnOut: return .attnOut(layer)
        case .mlpOut: return .mlpOut(layer)
        case .residPost: return .residPost(layer)
        }
    }
}

/// What a patched run is scored by, at the last position.
public enum PatchingMetric: Sendable, Equatable {
    /// p(answer) after softmax.
    case probability(answer: Int)
    /// logit(answer) − logit(against).
    case logitDifference(answer: Int, against: Int)

    /// The score of one row of last-position logits.
    public func value(_ logits: ArraySlice<Float>) -> Double {
        let row = Array(logits)
        switch self {
        case .probability(let answer): return Scores.probability(row, answer)
        case .logitDifference(let answer, let against): return Double(row[answer]) - Double(row[against])
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
    public enum Kind: String, Sendable { case activationPatching = "activation_patching", causalTracing = "causal_tracing" }

    public var kind: Kind
    public var hook: PatchingHook
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
}

// MARK: - Activation patching

/// Activation patching (causal mediation, Meng et al. 2022; Heimersheim & Nanda 2024): run a
/// corrupt prompt, restore the clean activation at one (layer, position), and see how much of the
/// clean answer comes back.
///
/// Work done once: the clean run (its activations at every selected site), the corrupt run (its
/// KV cache). For each position p, every layer variant continues the corrupt run's KV cache
/// truncated to p — the positions before p are the same as in the corrupt run and are not
/// recomputed — and the variants run as one batch. Not yet reused: the blocks below the patched
/// layer, which each variant recomputes (equal to the corrupt run's); skipping them needs a
/// `Transformer` entry point that starts a pass at block L from given residuals and KV caches.
public enum ActivationPatching {
    /// Patches `hook` of every (layer, position); `layers`/`positions` default to all.
    public static func run(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, hook: PatchingHook = .residPre,
                           layers: [Int]? = nil, positions: [Int]? = nil, tokenizer: Tokenizer? = nil,
                           context: TaskContext = .none) throws -> PatchingResult {
        let c = model.config
        try Check.prompt(clean)
        try Check.prompt(corrupt)
        let label = { (ids: [Int]) in ids.map { Scores.label($0, tokenizer) } }
        guard clean.count == corrupt.count else {
            throw AnalysisError.lengthMismatch(clean: clean.count, corrupt: corrupt.count,
                                               cleanTokens: label(clean), corruptTokens: label(corrupt))
        }
        try Check.metric(metric, c)
        let layers = layers ?? Array(0..<c.layerCount)
        try Check.layers(layers, c)
        let positions = try Check.positions(positions ?? Array(clean.indices), count: clean.count, role: "clean")

        let stages = positions.count + 2
        let (cleanValue, activations) = try Restoration.cleanRun(
            model: model, tokens: clean, hook: hook, layers: layers, positions: positions, metric: metric,
            context: context.stage(0, of: stages, label: "clean run"))
        var caches = [model.makeCache()]
        let corruptLogits = try model.forward([corrupt], caches: &caches, logits: .last,
                                              context: context.stage(1, of: stages, label: "corrupt run"))
        let corruptValue = metric.value(corruptLogits.data[...])
        try Restoration.checkEffect(clean: cleanValue, corrupt: corruptValue, metric: metric)

        let raw = try Restoration.sweep(model: model, tokens: corrupt, corrupted: caches, hook: hook, layers: layers,
                                        positions: positions, clean: activations, metric: metric, noise: nil,
                                        context: context, firstStage: 2, stages: stages)
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
    static func metric(_ metric: PatchingMetric, _ config: ModelConfig) throws {
        for t in metric.tokens where t < 0 || t >= config.vocabularySize {
            throw AnalysisError.invalidParameter(name: "answer", value: "token \(t)", expected: "a token id below \(config.vocabularySize)")
        }
    }
}

// MARK: - The shared restoring sweep

/// The machinery patching and tracing share.
enum Restoration {
    /// Most rows (sequences × new tokens) in one batched forward call.
    static let maxRows = 2048

    /// Noise added to the embeddings of a corrupted run: `vectors[sample][position]` (`d_model` floats)
    /// for the absolute positions in `positions`.
    struct Noise {
        var positions: [Int]
        var vectors: [[[Float]]]

        /// Registers an embed hook adding sample `samples[b]`'s noise to batch row b.
        func install(on hooks: HookSet, samples: [Int]) {
            hooks.add(.embed) { view in
                for (b, s) in samples.enumerated() {
                    for (i, p) in positions.enumerated() {
                        guard let t = view.windowRow(batch: b, absolutePosition: p) else { continue }
                        let row = view.row(batch: b, position: t)
                        let v = vectors[s][i]
                        for e in 0..<row.count { row[e] += v[e] }
                    }
                }
            }
        }
    }

    /// The clean run: the metric and the activation of `hook` at every (layer, position) selected,
    /// keyed `[layer][position] → [d_model]`. Stops after the deepest layer when only activations are needed.
    static func cleanRun(model: Model, tokens: [Int], hook: PatchingHook, layers: [Int], positions: [Int],
                         metric: PatchingMetric, context: TaskContext) throws -> (Double, [Int: [Int: [Float]]]) {
        var activations: [Int: [Int: [Float]]] = [:]
        let hooks = HookSet()
        for l in Set(layers) {
            hooks.add(hook.point(l)) { view in
                for p in positions {
                    guard let t = view.windowRow(batch: 0, absolutePosition: p) else { continue }
                    activations[l, default: [:]][p] = Array(view.row(batch: 0, position: t))
                }
            }
        }
        var caches = [model.makeCache()]
        let logits = try model.forward([tokens], caches: &caches, hooks: hooks, logits: .last, context: context)
        return (metric.value(logits.data[...]), activations)
    }

    static func checkEffect(clean: Double, corrupt: Double, metric: PatchingMetric) throws {
        guard abs(clean - corrupt) > 1e-9 else { throw AnalysisError.noEffect(metric: metric.name, value: Float(clean)) }
    }

    static func normalize(_ raw: [[Double]], clean: Double, corrupt: Double) -> [[Double]] {
        raw.map { row in row.map { ($0 - corrupt) / (clean - corrupt) } }
    }

    /// For each position p and layer l (and noise sample s): continue the corrupted run's cache
    /// (of sample s) from p with the clean activation restored at (l, p); the metric averaged over
    /// samples, `[layers][positions]`.
    static func sweep(model: Model, tokens: [Int], corrupted: [KVCache], hook: PatchingHook, layers: [Int],
                      positions: [Int], clean: [Int: [Int: [Float]]], metric: PatchingMetric, noise: Noise?,
                      context: TaskContext, firstStage: Int, stages: Int) throws -> [[Double]] {
        let samples = corrupted.count
        var raw = [[Double]](repeating: [Double](repeating: 0, count: positions.count), count: layers.count)
        let vocab = model.config.vocabularySize
        for (j, p) in positions.enumerated() {
            let stage = context.stage(firstStage + j, of: stages, label: "position \(p)")
            try context.checkCancelled()
            let suffix = Array(tokens[p...])
            // Prefix caches: each sample's corrupted run, cut back to p.
            let prefixes: [KVCache] = corrupted.map { cache in
                var copy = cache
                copy.truncate(to: p)
                return copy
            }
            // Variants (layer index, sample), batched up to maxRows rows.
            let variants = layers.indices.flatMap { i in (0..<samples).map { (i, $0) } }
            let perBatch = max(1, maxRows / suffix.count)
            var start = 0
            while start < variants.count {
                let end = min(variants.count, start + perBatch)
                let chunk = Array(variants[start..<end])
                let hooks = HookSet()
                for (b, (i, _)) in chunk.enumerated() {
                    guard let value = clean[layers[i]]?[p] else { continue }
                    hooks.replace(hook.point(layers[i]), positions: [p], with: value, batch: b)
                }
                noise?.install(on: hooks, samples: chunk.map(\.1))
                var caches = chunk.map { prefixes[$0.1] }
                let logits = try model.forward([[Int]](repeating: suffix, count: chunk.count), caches: &caches,
                                               hooks: hooks, logits: .last,
                                               context: stage.stage(start / perBatch, of: (variants.count + perBatch - 1) / perBatch,
                                                                    label: "batch"))
                for (b, (i, _)) in chunk.enumerated() {
                    raw[i][j] += metric.value(logits.data[b * vocab..<(b + 1) * vocab]) / Double(samples)
                }
                start = end
            }
        }
        context.report(1, "done")
        return raw
    }
}
