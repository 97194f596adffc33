import Foundation
import Transformer

// MARK: - Steering

/// One steered continuation.
public struct SteeredContinuation: Sendable, Equatable {
    public var scale: Double
    /// The new token ids (a stop token included when generation ended on one).
    public var tokens: [Int]
}

/// Activation addition: `resid_post(layer) += scale × vector` at chosen positions, in the prompt
/// pass and, when positions are not restricted, at every generated token too.
public enum Steering {
    /// A hook set that adds `scale × vector` to `blocks.{layer}.hook_resid_post`, at the absolute
    /// `positions` only, or everywhere (prompt and generated tokens) when nil.
    public static func hooks(vector: [Float], layer: Int, scale: Double, positions: [Int]? = nil) -> HookSet {
        let set = HookSet()
        set.add(.residPost(layer), vector: vector, scale: Float(scale), positions: positions)
        return set
    }

    /// Greedy (or sampled) continuations of `prompt`, one per scale, with the vector added at `layer`.
    ///
    /// A scale of 0 runs without hooks, so it is exactly the unsteered continuation. Progress is
    /// reported per generated token across all scales; cancellation is checked at every step.
    public static func generate(model: Model, prompt: [Int], vector: [Float], layer: Int, scales: [Double],
                                maxTokens: Int, positions: [Int]? = nil, sampler: Sampler = Sampler(),
                                stop: Set<Int> = [], context: TaskContext = .none) throws -> [SteeredContinuation] {
        let c = model.config
        guard !prompt.isEmpty else { throw AnalysisError.emptyPrompt }
        guard layer >= 0, layer < c.layerCount else { throw AnalysisError.layerOutOfRange(layer, layerCount: c.layerCount) }
        guard vector.count == c.modelDim else { throw AnalysisError.widthMismatch(expected: c.modelDim, found: vector.count) }
        guard maxTokens >= 1 else { throw AnalysisError.intOutOfRange(name: "generate", value: maxTokens, lowest: 1, highest: nil) }
        for p in positions ?? [] where p < 0 || p >= prompt.count {
            throw AnalysisError.positionOutOfRange(p, tokenCount: prompt.count)
        }
        let total = Double(scales.count * maxTokens)
        var results: [SteeredContinuation] = []
        let quiet = TaskContext(isCancelled: { context.isCancelled })
        for (k, scale) in scales.enumerated() {
            let set: HookSet? = scale == 0 ? nil : hooks(vector: vector, layer: layer, scale: scale, positions: positions)
            var sampler = sampler
            var cache = model.makeCache()
            var logits = try model.prefill(prompt, cache: &cache, hooks: set, context: quiet)
            var out: [Int] = []
            for step in 0..<maxTokens {
                try context.checkCancelled()
                let next = sampler.sample(logits)
                out.append(next)
                context.report((Double(k * maxTokens) + Double(step + 1)) / total, "scale \(scale): token \(step + 1)/\(maxTokens)")
                if stop.contains(next) || step == maxTokens - 1 || cache.length >= c.contextLength { break }
                logits = try model.prefill([next], cache: &cache, hooks: set, context: quiet)
            }
            results.append(SteeredContinuation(scale: scale, tokens: out))
        }
        return results
    }
}
