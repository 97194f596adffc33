import Foundation
import Transformer

// MARK: - Gradient attribution

/// How each input token's importance is measured from gradients at its embedding (`hook_embed`).
public enum GradientAttributionMethod: String, Sendable, CaseIterable {
    /// ‖∂metric/∂embedding‖ per token (Simonyan et al.): how sensitive the metric is there.
    case saliency
    /// Σ_d embedding ⊙ ∂metric/∂embedding per token: the first-order effect of removing it (to zero).
    case inputXGradient = "input_x_gradient"
    /// Σ_d (x − baseline) ⊙ mean of the gradients along the straight path (Sundararajan et al.).
    case integratedGradients = "integrated_gradients"
}

/// Where integrated gradients start.
public enum GradientBaseline: Sendable, Equatable {
    /// The all-zero embedding at every position.
    case zero
    /// One token's embedding at every position.
    case token(Int)
}

/// Per-token scores from gradients, with what a reader needs to judge them.
public struct GradientAttributionResult: Sendable, Equatable {
    public var method: GradientAttributionMethod
    public var metric: GradientMetric
    /// The metric on the prompt as it is.
    public var value: Double
    /// One score per prompt token.
    public var scores: [Double]
    /// Integrated gradients: steps of the midpoint sum, the baseline, and the metric there.
    public var steps: Int?
    public var baseline: GradientBaseline?
    public var baselineValue: Double?

    /// Integrated gradients' completeness: Σ scores should equal value − baselineValue. The gap is
    /// |Σ scores − Δ| / |Δ|; a large one says the path integral is not resolved by these steps.
    public var completenessGap: Double? {
        guard let b = baselineValue else { return nil }
        let change = value - b
        return abs(scores.reduce(0, +) - change) / max(abs(change), 1e-12)
    }

    /// Positions ordered from the largest score to the smallest.
    public var ranking: [Int] { scores.indices.sorted { scores[$0] > scores[$1] } }
}

public enum GradientAttribution {
    /// Gradient rows of the batch kept per integrated-gradients pass: 16 steps of a 32-token prompt
    /// (the pass's saved activations are ~20 KB per row per block on the bundled model).
    public static let rowsPerPass = 512

    /// Scores each token of `prompt` by `method` for `metric` at the last position.
    public static func attribute(model: Model, prompt: [Int], metric: GradientMetric, method: GradientAttributionMethod,
                                 steps: Int = 32, baseline: GradientBaseline = .zero,
                                 context: TaskContext = .none) throws -> GradientAttributionResult {
        let c = model.config
        guard !prompt.isEmpty else { throw AnalysisError.emptyPrompt }
        for t in metric.tokens + prompt where t < 0 || t >= c.vocabularySize {
            throw AnalysisError.intOutOfRange(name: "token", value: t, lowest: 0, highest: c.vocabularySize - 1)
        }
        let d = c.modelDim
        switch method {
        case .saliency, .inputXGradient:
            let (value, grad, embedding) = try embeddingGradient(model: model, prompt: prompt, metric: metric, context: context)
            let scores = prompt.indices.map { t -> Double in
                let g = grad[t * d..<(t + 1) * d], x = embedding[t * d..<(t + 1) * d]
                if method == .saliency { return g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
                return zip(g, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            return GradientAttributionResult(method: method, metric: metric, value: value, scores: scores)
        case .integratedGradients:
            guard steps >= 1 && steps <= 1024 else {
                throw AnalysisError.intOutOfRange(name: "steps", value: steps, lowest: 1, highest: 1024)
            }
            if case .token(let t) = baseline, t < 0 || t >= c.vocabularySize {
                throw AnalysisError.intOutOfRange(name: "baseline token", value: t, lowest: 0, highest: c.vocabularySize - 1)
            }
            return try integratedGradients(model: model, prompt: prompt, metric: metric, steps: steps, baseline: baseline,
                                           context: context)
        }
    }

    /// The metric, its gradient at `hook_embed` [T·d] and the embeddings [T·d] of one prompt.
    static func embeddingGradient(model: Model, prompt: [Int], metric: GradientMetric,
                                  context: TaskContext) throws -> (Double, [Float], [Float]) {
        let forward = ActivationCache(), backward = ActivationCache()
        let hooks = HookSet(), gradients = HookSet()
        hooks.cache([.embed], into: forward)
        gradients.cache([.embed], into: backward)
        let pass = try model.gradients([prompt], metrics: [metric], hooks: hooks, gradientHooks: gradients, context: context)
        return (pass.metrics[0], backward[.embed]?.data ?? [], forward[.embed]?.data ?? [])
    }

    /// Integrated gradients with a midpoint sum: the embeddings at α_k = (k + ½)/steps along the
    /// path from the baseline run as the sequences of a batch (rows up to `rowsPerPass` at a time),
    /// each sequence's `hook_embed` rewritten to its point on the path.
    static func integratedGradients(model: Model, prompt: [Int], metric: GradientMetric, steps: Int, baseline: GradientBaseline,
                                    context: TaskContext) throws -> GradientAttributionResult {
        let d = model.config.modelDim, count = prompt.count
        // The input's embeddings and the baseline's, [T·d] each; the metric at both ends.
        let ends = ActivationCache()
        let endHooks = HookSet()
        let baseRow: [Float]
        switch baseline {
        case .zero: baseRow = [Float](repeating: 0, count: d)
        case .token(let t):
            let probe = ActivationCache()
            let set = HookSet()
            set.cache([.embed], into: probe)
            var caches = [model.makeCache()]
            _ = try model.forward([[t]], caches: &caches, hooks: set, logits: .none, stopAfterLayer: 0)
            baseRow = probe[.embed]?.data ?? []
        }
        endHooks.cache([.embed], into: ends)
        endHooks.add(.embed) { view in
            guard view.batch == 2 else { return }
            for t in 0..<view.positions {
                let row = view.row(batch: 1, position: t)
                for i in 0..<d { row[i] = baseRow[i] }
            }
        }
        var caches = [model.makeCache(), model.makeCache()]
        let endLogits = try model.forward([prompt, prompt], caches: &caches, hooks: endHooks, logits: .last, context: context)
        let vocab = model.config.vocabularySize
        let endValues = (0..<2).map { b in metricValue(metric, endLogits.data[b * vocab..<(b + 1) * vocab]) }
        guard let input = ends[.embed]?.data else { return GradientAttributionResult(method: .integratedGradients, metric: metric, value: 0, scores: []) }
        let x = Array(input[0..<count * d])

        // Σ_k ∂metric/∂embedding at α_k, [T·d], accumulated over the passes.
        var total = [Double](repeating: 0, count: count * d)
        let perPass = max(1, rowsPerPass / count)
        var done = 0
        while done < steps {
            try context.checkCancelled()
            let batch = min(perPass, steps - done)
            let alphas = (0..<batch).map { Float(Double(done + $0) + 0.5) / Float(steps) }
            let hooks = HookSet(), gradients = HookSet()
            hooks.add(.embed) { view in
                for b in 0..<view.batch {
                    for t in 0..<view.positions {
                        let row = view.row(batch: b, position: t)
                        for i in 0..<d { row[i] = baseRow[i] + alphas[b] * (x[t * d + i] - baseRow[i]) }
                    }
                }
            }
            gradients.add(.embed) { view in
                for b in 0..<view.batch {
                    for t in 0..<view.positions {
                        let row = view.row(batch: b, position: t)
                        for i in 0..<d { total[t * d + i] += Double(row[i]) }
                    }
                }
            }
            let quiet = TaskContext(isCancelled: { context.isCancelled })
            _ = try model.gradients(Array(repeating: prompt, count: batch), metrics: Array(repeating: metric, count: batch),
                                    hooks: hooks, gradientHooks: gradients, context: quiet)
            done += batch
            context.report(Double(done) / Double(steps), "step \(done)/\(steps)")
        }
        let scores = (0..<count).map { t -> Double in
            var s = 0.0
            for i in 0..<d { s += Double(x[t * d + i] - baseRow[i]) * total[t * d + i] / Double(steps) }
            return s
        }
        return GradientAttributionResult(method: .integratedGradients, metric: metric, value: endValues[0], scores: scores,
                                         steps: steps, baseline: baseline, baselineValue: endValues[1])
    }

    /// The metric of one row of logits.
    static func metricValue(_ metric: GradientMetric, _ logits: ArraySlice<Float>) -> Double {
        let s = logits.startIndex
        switch metric {
        case .logitDifference(let a, let b): return Double(logits[s + a]) - Double(logits[s + b])
        case .logProbability(let a): return Softmax.logProbability(logits, at: a)
        case .probability(let a): return exp(Softmax.logProbability(logits, at: a))
        }
    }
}
