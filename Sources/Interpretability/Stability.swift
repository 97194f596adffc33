import Foundation
import Transformer

// MARK: - Stability under noise

/// How often the clean answer survives Gaussian noise in the residual stream, per layer.
public struct StabilityResult: Sendable, Equatable {
    public struct Layer: Sendable, Equatable {
        public var layer: Int
        /// The noise standard deviation, averaged over the noised positions (noise × each position's RMS in the clean run).
        public var std: Double
        /// Share of the noisy samples whose top-1 token is the clean top-1.
        public var kept: Double
        /// Mean probability of the clean top-1 token over the samples.
        public var meanProbability: Double
    }
    public var cleanTop: Int
    public var cleanProbability: Double
    public var layers: [Layer]
    public var samples: Int
    /// The positions that got noise.
    public var positions: [Int]
    /// The prompt's massive-activation positions (massive at some layer of the clean run).
    public var sinkPositions: [Int]
    /// The largest RMS of a sink position over its layer's median (0 without sinks).
    public var sinkRatio: Double
}

public enum Stability {
    /// For each layer, `samples` runs with N(0, (noise × rms_t)²) added to each position t of that layer's
    /// resid_post (rms_t: the RMS of the clean run's state at that position), seeded per layer from `seed`.
    /// The samples of one layer run as one batch.
    ///
    /// Noise goes to `positions` (absolute); by default every position except the prompt's
    /// massive-activation positions under `profile`: noise scaled by the attention sink's RMS is
    /// so large that it decides the answer at every layer where the sink exists.
    public static func measure(model: Model, prompt: [Int], layers: [Int], noise: Double, samples: Int, seed: UInt64,
                               positions: [Int]? = nil, profile: MassiveActivations? = nil,
                               context: TaskContext = .none) throws -> StabilityResult {
        let c = model.config
        guard !prompt.isEmpty else { throw AnalysisError.emptyPrompt }
        guard samples >= 1 else { throw AnalysisError.intOutOfRange(name: "samples", value: samples, lowest: 1, highest: nil) }
        guard noise >= 0, noise.isFinite else { throw AnalysisError.numberOutOfRange(name: "noise", value: Double(noise), domain: .nonNegative, example: nil) }
        for l in layers where l < 0 || l >= c.layerCount { throw AnalysisError.layerOutOfRange(l, layerCount: c.layerCount) }
        let quiet = TaskContext(isCancelled: { context.isCancelled })

        // The clean run: its answer, the scale of each layer's residual stream, and its sink.
        var sink = Set<Int>()
        var sinkRatio = 0.0
        let scan = HookSet()
        if let profile {
            for l in 0..<c.layerCount {
                scan.add(.residPost(l)) { view in
                    for t in 0..<view.counts[0] {
                        let ratio = profile.ratio(rms: RMSScan.rms(view.row(batch: 0, position: t)), layer: l)
                        if ratio >= MassiveActivations.threshold { sink.insert(t); sinkRatio = max(sinkRatio, ratio) }
                    }
                }
            }
        }
        let clean = try model.run(tokens: prompt, cache: layers.map { .residPost($0) }, hooks: scan, context: quiet)
        let noised = try positions.map { try Check.positions($0, count: prompt.count, role: "prompt") }
            ?? prompt.indices.filter { !sink.contains($0) }
        guard !noised.isEmpty else { throw AnalysisError.onlySinkPositions(positions: sink.sorted()) }
        let noisedSet = Set(noised)
        let vocab = c.vocabularySize
        let lastLogits = Array(clean.logits.data[((prompt.count - 1) * vocab)...])
        let cleanP = Softmax.probabilities(lastLogits)
        let top = Sampler.argmax(lastLogits)

        var out: [StabilityResult.Layer] = []
        for (k, layer) in layers.enumerated() {
            try context.checkCancelled()
            // Each position's noise is scaled by that position's own RMS: the first position of a
            // llama-family model carries massive activations that would otherwise set the scale for all.
            let states = clean.activations[.residPost(layer)]?.data ?? []
            let d = c.modelDim
            let rms: [Float] = (0..<prompt.count).map { t in
                guard states.count >= (t + 1) * d else { return 0 }
                var ss = 0.0
                for j in 0..<d { ss += Double(states[t * d + j]) * Double(states[t * d + j]) }
                return Float((ss / Double(d)).squareRoot())
            }
            let scale = Float(noise)
            var rng = SplitMix64(seed: seed &+ UInt64(layer) &* 0x9E37_79B9)
            let hooks = HookSet()
            hooks.add(.residPost(layer)) { view in
                for b in 0..<view.batch {
                    for t in 0..<view.positions where noisedSet.contains(view.startPositions[b] + t) {
                        let row = view.row(batch: b, position: t)
                        let std = scale * rms[min(view.startPositions[b] + t, rms.count - 1)]
                        for i in 0..<row.count { row[i] += std * gaussian(&rng) }
                    }
                }
            }
            var caches = (0..<samples).map { _ in model.makeCache() }
            let logits = try model.forward(Array(repeating: prompt, count: samples), caches: &caches, hooks: hooks,
                                           logits: .last, context: quiet)
            var kept = 0, meanP = 0.0
            for b in 0..<samples {
                let row = Array(logits.data[(b * vocab)..<((b + 1) * vocab)])
                if Sampler.argmax(row) == top { kept += 1 }
                meanP += exp(Softmax.logProbability(row, at: top))
            }
            let meanStd = Double(scale) * noised.reduce(0.0) { $0 + Double(rms[$1]) } / Double(noised.count)
            out.append(.init(layer: layer, std: meanStd, kept: Double(kept) / Double(samples),
                             meanProbability: meanP / Double(samples)))
            context.report(Double(k + 1) / Double(layers.count), "layer \(layer)")
        }
        return StabilityResult(cleanTop: top, cleanProbability: cleanP[top], layers: out, samples: samples,
                               positions: noised.sorted(), sinkPositions: sink.sorted(), sinkRatio: sinkRatio)
    }
}

/// A standard normal draw (Box–Muller).
func gaussian(_ rng: inout SplitMix64) -> Float {
    let u1 = max(Double(rng.nextUnitFloat()), 1e-12), u2 = Double(rng.nextUnitFloat())
    return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
}
