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
    ///
    /// The passes record every site a `trace … method attribution` can ask for (resid_pre, attn_out,
    /// mlp_out and hook_z of every layer) when that fits `FirstOrderPass.sharedBudget`, and the last
    /// pair's passes are kept: surveying the other hooks of the same pair, as one does before patching
    /// exactly, reads them instead of running the model again.
    static func firstOrderEffects(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, points: [HookPoint],
                                  context: TaskContext) throws -> (Double, Double, [HookPoint: [Double]]) {
        let pass = try FirstOrderPass.shared.passes(model: model, clean: clean, corrupt: corrupt, metric: metric,
                                                    points: points, context: context)
        var effects: [HookPoint: [Double]] = [:]
        for point in points {
            guard let a = pass.cleanActivations[point]?.data, let a2 = pass.corruptActivations[point]?.data,
                  let g = pass.gradientActivations[point]?.data else { continue }
            effects[point] = (0..<g.count).map { Double(a[$0] - a2[$0]) * Double(g[$0]) }
        }
        return (pass.cleanValue, pass.corruptValue, effects)
    }

    static func check(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, layers: [Int]?, positions: [Int]?,
                      tokenizer: Tokenizer?) throws -> ([Int], [Int]) {
        // Refused before any pass: the first-order passes record points a backend may not reach.
        if let backend = model.backend { throw BackendError.noGradients(placement: backend.placement) }
        let grid = try Check.patchingGrid(model.config, clean: clean, corrupt: corrupt, metric: metric,
                                          layers: layers, positions: positions, tokenizer: tokenizer)
        return (grid.layers, grid.positions)
    }
}

/// The clean run, and the corrupt run forward and backward, of the last pair attribution patching
/// saw (one per process: a pair's passes are what the next cell most likely asks for again).
final class FirstOrderPass: @unchecked Sendable {
    static let shared = FirstOrderPass()
    /// Most bytes the passes keep to serve every site at once: three copies (clean, corrupt,
    /// gradient) of each recorded activation.
    static let sharedBudget = 128 << 20

    struct Passes {
        weak var model: Model?
        var clean: [Int], corrupt: [Int], metric: PatchingMetric
        var cleanValue: Double, corruptValue: Double
        var cleanActivations: ActivationCache, corruptActivations: ActivationCache, gradientActivations: ActivationCache
        var recorded: Set<HookPoint>
    }

    private var last: Passes?
    private let lock = NSLock()

    func passes(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, points: [HookPoint],
                context: TaskContext) throws -> Passes {
        lock.lock()
        defer { lock.unlock() }
        if let p = last, p.model === model, p.clean == clean, p.corrupt == corrupt, p.metric == metric,
           p.recorded.isSuperset(of: points) {
            context.report(1, "clean and corrupt runs, kept from the last cell")
            return p
        }
        last = nil
        let every = Self.everySite(model.config)
        let bytes = 3 * 4 * clean.count * every.reduce(0) { $0 + Self.width($1, model.config) }
        let recorded = bytes <= Self.sharedBudget ? Array(Set(every).union(points)) : points
        let p = try run(model: model, clean: clean, corrupt: corrupt, metric: metric, points: recorded, context: context)
        last = p
        return p
    }

    /// Forgets the kept passes (a model unloaded, or memory wanted back).
    func clear() {
        lock.lock()
        last = nil
        lock.unlock()
    }

    static func everySite(_ c: ModelConfig) -> [HookPoint] {
        (0..<c.layerCount).flatMap { [HookPoint.residPre($0), .attnOut($0), .mlpOut($0), .z($0)] }
    }

    static func width(_ point: HookPoint, _ c: ModelConfig) -> Int {
        if case .z = point { return c.qDim }
        return c.modelDim
    }

    private func run(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, points: [HookPoint],
                     context: TaskContext) throws -> Passes {
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
        return Passes(model: model, clean: clean, corrupt: corrupt, metric: metric, cleanValue: cleanValue,
                      corruptValue: pass.metrics[0], cleanActivations: cleanActivations,
                      corruptActivations: corruptActivations, gradientActivations: gradients, recorded: Set(points))
    }
}
