import Foundation
import Transformer

// MARK: - Causal tracing

/// Causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations in GPT"):
/// corrupt the subject by Gaussian noise on its token embeddings (std = `noise` × the embedding
/// std), then restore each clean (layer, position) and measure how much of p(answer) returns,
/// averaged over `samples` seeded noise draws. With `window` W, each restoration restores W
/// consecutive layers around its layer at once (the paper's MLP and attention curves, W = 10).
///
/// Work done once, in one batch: the clean run and all noisy samples, whose KV caches and residual
/// streams every restoration resumes from (see `Restoration`).
public enum CausalTracing {
    /// Traces `prompt` with noise on `subjectPositions`; `layers`/`positions` default to all.
    public static func run(model: Model, prompt: [Int], subjectPositions: [Int], metric: PatchingMetric,
                           noise: Float = 3, samples: Int = 10, seed: UInt64 = 0, hook: HookSite = .residPre,
                           layers: [Int]? = nil, positions: [Int]? = nil, window: Int = 1, tokenizer: Tokenizer? = nil,
                           context: TaskContext = .none) throws -> PatchingResult {
        let c = model.config
        try Check.prompt(prompt)
        try Check.metric(metric, c)
        guard samples >= 1, samples <= 1000 else {
            throw AnalysisError.intOutOfRange(name: "samples", value: samples, lowest: 1, highest: 1000)
        }
        guard noise > 0, noise.isFinite else {
            throw AnalysisError.numberOutOfRange(name: "std", value: Double(noise), domain: .positive, example: 3)
        }
        guard window >= 1, window <= c.layerCount else {
            throw AnalysisError.intOutOfRange(name: "window", value: window, lowest: 1, highest: c.layerCount)
        }
        let subject = Array(Set(try Check.positions(subjectPositions, count: prompt.count, role: "traced"))).sorted()
        let layers = layers ?? Array(0..<c.layerCount)
        try Check.layers(layers, c)
        let positions = try Check.positions(positions ?? Array(prompt.indices), count: prompt.count, role: "traced")

        let noiseSpec = try Self.noise(model: model, subject: subject, std: noise, samples: samples, seed: seed, context: context)

        // Positions before the first noised one see the same inputs in the clean and noisy runs.
        let (cleanValue, corruptValue, raw) = try Restoration.measure(
            model: model, clean: prompt, corrupt: prompt, noise: noiseSpec, samples: samples,
            identicalPrefix: subject.first ?? prompt.count, hook: hook, layers: layers, positions: positions,
            metric: metric, window: window, context: context)
        let labels = prompt.map { TokenScore.label($0, tokenizer) }
        return PatchingResult(kind: .causalTracing, hook: hook, metric: metric, layers: layers, positions: positions,
                              cleanIDs: prompt, cleanTokens: labels, corruptIDs: prompt, corruptTokens: labels,
                              subjectPositions: subject, cleanValue: cleanValue, corruptValue: corruptValue, raw: raw,
                              normalized: Restoration.normalize(raw, clean: cleanValue, corrupt: corruptValue), window: window)
    }

    /// Seeded noise for `subject` positions, sample-major then position then dimension (a seed
    /// reproduces a trace exactly), with std = `std` × the embedding std.
    static func noise(model: Model, subject: [Int], std: Float, samples: Int, seed: UInt64,
                      context: TaskContext = .none) throws -> Restoration.Noise {
        let sigma = std * (try EmbeddingStatistics.standardDeviation(model, context: context))
        var rng = SplitMix64(seed: seed)
        let d = model.config.modelDim
        let vectors: [[[Float]]] = (0..<samples).map { _ in
            subject.map { _ in (0..<d).map { _ in sigma * standardNormal(&rng) } }
        }
        return Restoration.Noise(positions: subject, vectors: vectors)
    }

    /// The token positions covering the first occurrence of `subject` in the prompt's text.
    public static func subjectPositions(_ subject: String, in prompt: [Int], tokenizer: Tokenizer) throws -> [Int] {
        let pieces = prompt.map { tokenizer.pieceBytes(Int32($0)) }
        let text = pieces.flatMap { $0 }
        let needle = Array(subject.utf8)
        let shownPrompt = tokenizer.decode(prompt.map { Int32($0) })
        guard !needle.isEmpty, needle.count <= text.count else {
            throw AnalysisError.subjectNotFound(subject: subject, prompt: shownPrompt)
        }
        guard let start = (0...(text.count - needle.count)).first(where: { Array(text[$0..<$0 + needle.count]) == needle }) else {
            throw AnalysisError.subjectNotFound(subject: subject, prompt: shownPrompt)
        }
        let end = start + needle.count
        var offset = 0
        var covered: [Int] = []
        for (i, piece) in pieces.enumerated() {
            let lo = offset, hi = offset + piece.count
            if hi > start && lo < end { covered.append(i) }
            offset = hi
        }
        return covered
    }
}

/// A standard normal draw (Box–Muller) from a seeded generator.
func standardNormal(_ rng: inout SplitMix64) -> Float {
    let u1 = max(Double(rng.nextUnitFloat()), 1e-12)
    let u2 = Double(rng.nextUnitFloat())
    return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
}

// MARK: - Embedding statistics

/// The standard deviation of all token-embedding entries, computed once per model (it reads every row).
enum EmbeddingStatistics {
    nonisolated(unsafe) private static var cache: [ObjectIdentifier: Float] = [:]
    private static let lock = NSLock()

    static func standardDeviation(_ model: Model, context: TaskContext = .none) throws -> Float {
        lock.lock()
        defer { lock.unlock() }
        if let s = cache[ObjectIdentifier(model)] { return s }
        let s = try model.embeddingStandardDeviation(context: context)
        cache[ObjectIdentifier(model)] = s
        return s
    }
}
