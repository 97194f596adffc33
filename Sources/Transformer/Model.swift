import Foundation
import GGUF

// MARK: - Model

/// A loaded model: configuration and weights. Immutable once loaded and safe to
/// share; per-sequence state lives in `KVCache` values owned by the caller.
public final class Model: @unchecked Sendable {
    public let config: ModelConfig
    public let weights: Weights
    /// The GGUF file the model came from.
    public var file: GGUFFile { weights.file }
    /// Seconds spent opening the file and reading the norms.
    public let loadSeconds: Double
    /// RoPE frequencies base^(-2i/ropeDim), i in 0..<ropeDim/2.
    let ropeFrequencies: [Float]
    /// The same for the sliding-window layers, whose base may differ (Gemma 3: 10⁴ against 10⁶).
    let localRopeFrequencies: [Float]
    /// Scratch buffers kept between forward passes.
    let runStates = RunStateStore()
    /// Where the forward pass runs when not in this process's own runtime (llama.cpp), else nil.
    public let backend: ForwardBackend?
    /// What the backend holds from its last pass, so a continued sequence sends only its new tokens.
    let backendMemory = BackendMemory()

    /// Opens and loads the GGUF file at `path`.
    public convenience init(path: String, backend: ForwardBackend? = nil) throws {
        let start = Date()
        let file = try GGUFFile(path: path)
        try self.init(file: file, started: start, backend: backend)
    }

    /// Loads the model held by an opened GGUF file.
    public init(file: GGUFFile, started: Date = Date(), backend: ForwardBackend? = nil,
                activations: ActivationPrecision = kernelConfiguration.defaultActivations) throws {
        self.backend = backend
        configureBLASThreads()
        config = try ModelConfig(gguf: file)
        weights = try Weights(file: file, config: config, activations: activations)
        ropeFrequencies = Transformer.ropeFrequencies(ropeDim: config.ropeDim, base: config.ropeBase)
        localRopeFrequencies = Transformer.ropeFrequencies(ropeDim: config.ropeDim, base: config.localRopeBase ?? config.ropeBase)
        loadSeconds = Date().timeIntervalSince(started)
    }

    /// How the products treat their activations: F32 (the reference's arithmetic) or 8-bit blocks.
    public var activations: ActivationPrecision { weights.activations }

    /// Bytes of activation buffers kept between forward passes.
    public var activationBytes: Int { runStates.keptBytes }

    /// An empty KV cache for one sequence.
    public func makeCache() -> KVCache { KVCache(config: config, replaying: backend != nil) }

    /// The default model's location: `$PERISCOPE_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf`,
    /// with `PERISCOPE_HOME` defaulting to `~/.cache/periscope`.
    public static var defaultModelPath: String {
        let home = ProcessInfo.processInfo.environment["PERISCOPE_HOME"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/periscope")
        return (home as NSString).appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    /// Resident memory of this process in bytes (VmRSS from /proc/self/status), or nil off Linux.
    public static func residentMemoryBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.split(separator: " ").compactMap { Int($0) }
            return digits.first.map { $0 * 1024 }
        }
        return nil
    }
}

// MARK: - Convenience runs

/// The result of `Model.run`: logits (every position, or only the last), the requested
/// activations, and the KV cache (to continue the sequence).
public struct RunResult {
    public var logits: Tensor            // [positions, vocab], or [1, vocab] for `.last`
    public var activations: ActivationCache
    public var kvCache: KVCache
}

extension Model {
    /// Runs one sequence and records the activations at `cache` points (every position).
    /// `logits: .last` skips the unembedding of every earlier position (1.8 GFLOP for 32 tokens).
    public func run(tokens: [Int], cache points: [HookPoint] = [], hooks: HookSet? = nil,
                    kvCache: KVCache? = nil, logits selection: LogitsSelection = .all,
                    context: TaskContext = .none) throws -> RunResult {
        let activations = ActivationCache()
        // The caller's hooks run first (a patch is visible in the cache); their set is not modified.
        let set = hooks?.copy() ?? HookSet()
        if !points.isEmpty { set.cache(points, into: activations) }
        var caches = [kvCache ?? makeCache()]
        let logits = try forward([tokens], caches: &caches, hooks: set.isEmpty ? nil : set, logits: selection, context: context)
        return RunResult(logits: Tensor(shape: Array(logits.shape.dropFirst()), data: logits.data),
                         activations: activations, kvCache: caches[0])
    }

    /// Runs `tokens` into a fresh cache (or extends `cache`), returning the last position's logits.
    public func prefill(_ tokens: [Int], cache: inout KVCache, hooks: HookSet? = nil, context: TaskContext = .none) throws -> [Float] {
        var caches = [cache]
        cache = makeCache()   // drop our reference so the forward pass appends without copying
        defer { cache = caches[0] }   // also on a throw: forward leaves the cache as it was
        return try forward([tokens], caches: &caches, hooks: hooks, logits: .last, context: context).data
    }

    /// Continues a prompt: greedy when `sampler.temperature == 0`, stopping after `maxTokens` or at
    /// a token in `stop`. Returns only the new tokens (ending with the stop token when one ended the
    /// run). `hooks` run at every step (prompt and decode).
    public func generate(prompt: [Int], maxTokens: Int, sampler: Sampler = Sampler(), stop: Set<Int> = [],
                         hooks: HookSet? = nil, context: TaskContext = .none) throws -> [Int] {
        guard !prompt.isEmpty else { throw TransformerError.emptyPrompt }
        var sampler = sampler
        var cache = makeCache()
        var logits = try prefill(prompt, cache: &cache, hooks: hooks, context: context)
        var out: [Int] = []
        for step in 0..<maxTokens {
            let next = sampler.sample(logits)
            out.append(next)
            context.report(Double(step + 1) / Double(maxTokens), "token \(step + 1)/\(maxTokens)")
            if stop.contains(next) || step == maxTokens - 1 || cache.length >= config.contextLength { break }
            logits = try prefill([next], cache: &cache, hooks: hooks, context: context)
        }
        return out
    }

    /// Continues several prompts of the same length in lockstep, one batched forward per step (so
    /// a sweep — steering scales, say — costs about one generation). `hooks` may target single
    /// sequences by batch index. Each result stops at its first token in `stop` or after `maxTokens`.
    public func generate(prompts: [[Int]], maxTokens: Int, sampler: Sampler = Sampler(), stop: Set<Int> = [],
                         hooks: HookSet? = nil, context: TaskContext = .none) throws -> [[Int]] {
        guard let first = prompts.first, !first.isEmpty else { throw TransformerError.emptyPrompt }
        var samplers = prompts.indices.map { _ in sampler }
        var caches = prompts.map { _ in makeCache() }
        var logits = try forward(prompts, caches: &caches, hooks: hooks, logits: .last, context: context)
        var out = prompts.map { _ in [Int]() }
        var done = prompts.map { _ in false }
        let vocab = config.vocabularySize
        for step in 0..<maxTokens {
            var next: [[Int]] = []
            for b in prompts.indices {
                let token = samplers[b].sample(Array(logits.data[b * vocab..<(b + 1) * vocab]))
                if !done[b] { out[b].append(token); done[b] = stop.contains(token) }
                next.append([token])
            }
            context.report(Double(step + 1) / Double(maxTokens), "token \(step + 1)/\(maxTokens)")
            if done.allSatisfy({ $0 }) || step == maxTokens - 1 || caches[0].length >= config.contextLength { break }
            logits = try forward(next, caches: &caches, hooks: hooks, logits: .last, context: context)
        }
        return out
    }
}
