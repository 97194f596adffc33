import Foundation
import Transformer

// MARK: - Attribution patching

/// Attribution patching (Nanda 2023; Syed et al. 2023): activation patching estimated to first
/// order. Restoring the clean activation a at one site of the corrupt run (activation a′) changes the
/// metric by about (a − a′) · ∂metric/∂a′, so one clean pass, one corrupt pass and one backward pass
/// from the corrupt metric give the whole grid: every layer, position and hook, and every head.
public enum AttributionPatching {
    /// The estimated grid of `hook` over `layers` × `positions`, in the same form as exact patching
    /// (`raw` is corrupt value + estimated change).
    public static func run(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, hook: HookSite = .residPre,
                           layers: [Int]? = nil, positions: [Int]? = nil, tokenizer: Tokenizer? = nil,
                           context: TaskContext = .none) throws -> PatchingResult {
        let c = model.config
        let (layers, positions) = try check(model: model, clean: clean, corrupt: corrupt, metric: metric, layers: layers,
                                            positions: positions, tokenizer: tokenizer)
        let points = layers.map(hook.point)
        let (cleanValue, corruptValue, effects) = try firstOrderEffects(model: model, clean: clean, corrupt: corrupt,
                                                                         metric: metric, points: points, context: context)
        let d = c.modelDim
        let raw = points.map { point in
            positions.map { p in corruptValue + (effects[point]?[p * d..<(p + 1) * d].reduce(0, +) ?? 0) }
        }
        let label = { (ids: [Int]) in ids.map { TokenScore.label($0, tokenizer) } }
        return PatchingResult(kind: .attributionPatching, hook: hook, metric: metric, layers: layers, positions: positions,
                              cleanIDs: clean, cleanTokens: label(clean), corruptIDs: corrupt, corruptTokens: label(corrupt),
                              subjectPositions: [], cleanValue: cleanValue, corruptValue: corruptValue, raw: raw,
                              normalized: Restoration.normalize(raw, clean: cleanValue, corrupt: corruptValue))
    }

    /// The estimated effect of restoring each head's clean `hook_z` at every position at once:
    /// `raw[layer][head]` is corrupt value + Σ over positions and the head's d_head of (z − z′) · ∂metric/∂z′.
    public static func heads(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, layers: [Int]? = nil,
                             tokenizer: Tokenizer? = nil, context: TaskContext = .none) throws -> HeadPatchingResult {
        let c = model.config
        let (layers, _) = try check(model: model, clean: clean, corrupt: corrupt, metric: metric, layers: layers,
                                    positions: nil, tokenizer: tokenizer)
        let points = layers.map(HookPoint.z)
        let (cleanValue, corruptValue, effects) = try firstOrderEffects(model: model, clean: clean, corrupt: corrupt,
                                                                         metric: metric, points: points, context: context)
        let hd = c.headDim, width = c.qDim
        let raw = points.map { point in
            (0..<c.headCount).map { h -> Double in
                guard let e = effects[point] else { return corruptValue }
                var sum = 0.0
                for p in clean.indices { for i in 0..<hd { sum += e[p * width + h * hd + i] } }
                return corruptValue + sum
            }
        }
        return HeadPatchingResult(method: .attribution, metric: metric, layers: layers, heads: Array(0..<c.headCount),
                                  cleanValue: cleanValue, corruptValue: corruptValue, raw: raw,
                                  normalized: Restoration.normalize(raw, clean: cleanValue, corrupt: corruptValue))
    }

    /// The clean and corrupt metrics, and (clean − corrupt activation) ⊙ ∂metric/∂activation on the
    /// corrupt run at every point, `[T·width]` each (Double, summed by the caller as it needs).
    static func firstOrderEffects(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, points: [HookPoint],
                                  context: TaskContext) throws -> (Double, Double, [HookPoint: [Double]]) {
        let gradientMetric: GradientMetric
        switch metric {
        case .probability(let a): gradientMetric = .probability(answer: a)
        case .logitDifference(let a, let b): gradientMetric = .logitDifference(answer: a, against: b)
        }
        let quiet = TaskContext(isCancelled: { context.isCancelled })
        // The clean run's activations.
        let cleanActivations = ActivationCache()
        let cleanHooks = HookSet()
        cleanHooks.cache(points, into: cleanActivations)
        var caches = [model.makeCache()]
        let cleanLogits = try model.forward([clean], caches: &caches, hooks: cleanHooks, logits: .last, context: quiet)
        let cleanValue = metric.value(cleanLogits.data[...])
        context.report(0.4, "clean run")
        try context.checkCancelled()

        // The corrupt run forward (its activations) and backward (the gradients there).
        let corruptActivations = ActivationCache(), gradients = ActivationCache()
        let hooks = HookSet(), gradientHooks = HookSet()
        hooks.cache(points, into: corruptActivations)
        gradientHooks.cache(points, into: gradients)
        let pass = try model.gradients([corrupt], metrics: [gradientMetric], hooks: hooks, gradientHooks: gradientHooks,
                                       context: quiet)
        context.report(1, "corrupt run, forward and backward")
        var effects: [HookPoint: [Double]] = [:]
        for point in points {
            guard let a = cleanActivations[point]?.data, let a2 = corruptActivations[point]?.data,
                  let g = gradients[point]?.data else { continue }
            effects[point] = (0..<g.count).map { Double(a[$0] - a2[$0]) * Double(g[$0]) }
        }
        return (cleanValue, pass.metrics[0], effects)
    }

    static func check(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, layers: [Int]?, positions: [Int]?,
                      tokenizer: Tokenizer?) throws -> ([Int], [Int]) {
        let c = model.config
        try Check.prompt(clean)
        try Check.prompt(corrupt)
        guard clean.count == corrupt.count else {
            let label = { (ids: [Int]) in ids.map { TokenScore.label($0, tokenizer) } }
            throw AnalysisError.lengthMismatch(clean: clean.count, corrupt: corrupt.count,
                                               cleanTokens: label(clean), corruptTokens: label(corrupt))
        }
        try Check.metric(metric, c)
        let layers = layers ?? Array(0..<c.layerCount)
        try Check.layers(layers, c)
        let positions = try Check.positions(positions ?? Array(clean.indices), count: clean.count, role: "clean")
        return (layers, positions)
    }
}
