import Foundation
import PeriscopeLanguage
import Transformer

// MARK: - Cached run

/// Which prompt a cached run belongs to: the model's file and the exact token ids.
public struct ActivationKey: Hashable, Sendable {
    public var modelPath: String
    public var tokens: [Int]
    public init(modelPath: String, tokens: [Int]) { self.modelPath = modelPath; self.tokens = tokens }
}

/// The activations of one prompt's forward pass, kept between cells.
public final class CachedRun: @unchecked Sendable {
    public let key: ActivationKey
    public let prompt: PromptValue
    /// Hook point → activations `[positions, …]` (e.g. `[T, 576]`, `[T, 9, T]` for patterns).
    public private(set) var activations: [HookPoint: Tensor]
    /// Logits of the last position `[vocab]`.
    public let lastLogits: [Float]
    /// Ordering stamp for least-recently-used eviction.
    fileprivate(set) var lastUsed: UInt64 = 0

    init(prompt: PromptValue, activations: [HookPoint: Tensor], lastLogits: [Float]) {
        self.key = ActivationKey(modelPath: prompt.modelPath, tokens: prompt.ids)
        self.prompt = prompt
        self.activations = activations
        self.lastLogits = lastLogits
    }

    /// Bytes held by the activations and logits.
    public var byteCount: Int {
        activations.values.reduce(0) { $0 + $1.byteCount } + lastLogits.count * MemoryLayout<Float>.size
    }

    public subscript(point: HookPoint) -> Tensor? { activations[point] }

    /// Adds activations recorded by a later run of the same prompt.
    fileprivate func merge(_ more: [HookPoint: Tensor]) {
        activations.merge(more) { old, _ in old }
    }
}

// MARK: - Store

/// The activation cache of a session: one entry per (model, prompt tokens), bounded by a memory
/// budget; when an insertion goes over it, the least recently used entries are evicted.
public final class ActivationStore {
    /// The default budget, 2 GiB.
    public static let defaultBudget = 2 << 30

    public private(set) var budgetBytes: Int
    private var entries: [ActivationKey: CachedRun] = [:]
    private var clock: UInt64 = 0

    public init(budgetBytes: Int = ActivationStore.defaultBudget) { self.budgetBytes = budgetBytes }

    /// Entries, most recently used first.
    public var runs: [CachedRun] { entries.values.sorted { $0.lastUsed > $1.lastUsed } }
    public var count: Int { entries.count }
    public var totalBytes: Int { entries.values.reduce(0) { $0 + $1.byteCount } }

    /// The entry for `key`, marked as just used.
    public func lookup(_ key: ActivationKey) -> CachedRun? {
        guard let run = entries[key] else { return nil }
        touch(run)
        return run
    }

    /// The entry for `key` without changing its recency (for listings).
    public func peek(_ key: ActivationKey) -> CachedRun? { entries[key] }

    private func touch(_ run: CachedRun) {
        clock += 1
        run.lastUsed = clock
    }

    /// Stores `run` (replacing an entry with the same key), then evicts least recently used
    /// entries until the total fits the budget. An entry larger than the whole budget is not kept.
    /// Returns the evicted entries (including `run` itself when it does not fit).
    @discardableResult
    public func insert(_ run: CachedRun) -> [CachedRun] {
        entries[run.key] = run
        touch(run)
        return evict(protecting: run)
    }

    /// Adds activations to an existing entry (another hook point recorded later), then re-checks the budget.
    @discardableResult
    func merge(_ more: [HookPoint: Tensor], into run: CachedRun) -> [CachedRun] {
        run.merge(more)
        touch(run)
        return evict(protecting: run)
    }

    /// Sets the budget and evicts what no longer fits.
    @discardableResult
    public func setBudget(_ bytes: Int) -> [CachedRun] {
        budgetBytes = max(0, bytes)
        return evict(protecting: nil)
    }

    /// Removes the entry for `key`; returns it if there was one.
    @discardableResult
    public func remove(_ key: ActivationKey) -> CachedRun? { entries.removeValue(forKey: key) }

    /// Removes every entry (of one model when `modelPath` is given); returns the removed entries.
    @discardableResult
    public func removeAll(modelPath: String? = nil) -> [CachedRun] {
        let removed = entries.values.filter { modelPath == nil || $0.key.modelPath == modelPath }
        for run in removed { entries[run.key] = nil }
        return removed
    }

    /// Evicts least recently used entries while over budget; `protecting` goes last, and only if it
    /// alone exceeds the budget.
    private func evict(protecting kept: CachedRun?) -> [CachedRun] {
        var evicted: [CachedRun] = []
        var total = totalBytes
        let victims = entries.values.filter { $0 !== kept }.sorted { $0.lastUsed < $1.lastUsed }
        for victim in victims where total > budgetBytes {
            entries[victim.key] = nil
            total -= victim.byteCount
            evicted.append(victim)
        }
        if let kept, total > budgetBytes, entries[kept.key] === kept {
            entries[kept.key] = nil
            evicted.append(kept)
        }
        return evicted
    }
}

// MARK: - Session slot and running

/// The session slot holding the activation cache.
enum ActivationStoreKey: SessionKey { typealias Value = ActivationStore }

extension Session {
    /// The session's activation cache (created on first use).
    public var activations: ActivationStore {
        if let store = self[ActivationStoreKey.self] { return store }
        let store = ActivationStore()
        self[ActivationStoreKey.self] = store
        return store
    }

    /// The hook points `run` records: the residual stream at every site, the attention and MLP
    /// outputs, the attention patterns, the embeddings and the final normalised stream.
    public static func defaultCachedPoints(layers: Int) -> [HookPoint] {
        [.embed] + (0..<layers).flatMap { l -> [HookPoint] in
            [.residPre(l), .attnOut(l), .residMid(l), .mlpOut(l), .residPost(l), .pattern(l)]
        } + [.lnFinalNormalized]
    }

    /// The cached run of `prompt` on `model` holding at least `points` (default: the standard
    /// set), running the forward pass only when something is missing. `evicted` receives entries
    /// the budget pushed out.
    public func cachedRun(_ prompt: PromptValue, model: LoadedModel, points: [HookPoint]? = nil,
                          context: TaskContext, evicted: inout [CachedRun]) throws -> CachedRun {
        // A model run by llama.cpp caches, of the standard set, the points its graph names; a point
        // asked for by name that it cannot reach is refused by the pass with the reason.
        let backend = model.model.backend
        let standard = Session.defaultCachedPoints(layers: model.config.layerCount)
            .filter { point in backend.map { $0.tensorName(for: point) != nil } ?? true }
        let wanted = points ?? standard
        let key = ActivationKey(modelPath: model.path, tokens: prompt.ids)
        if let hit = activations.lookup(key), wanted.allSatisfy({ hit[$0] != nil }) { return hit }

        let existing = activations.peek(key)
        let missing = existing.map { run in wanted.filter { run[$0] == nil } } ?? []
        var record = existing == nil
            ? Array(Set(wanted + standard))
            : missing
        // A run that cannot fit the budget anyway records only what the caller asked for (the final
        // norm's output for the default set), so a long prompt does not allocate gigabytes of patterns to drop.
        let keepable = Session.estimatedBytes(record, tokens: prompt.ids.count, config: model.config)
            + model.config.vocabularySize * MemoryLayout<Float>.size <= activations.budgetBytes
        if existing == nil, !keepable { record = points ?? [.lnFinalNormalized] }
        let result = try model.model.run(tokens: prompt.ids, cache: record, logits: .last, context: context)
        var tensors: [HookPoint: Tensor] = [:]
        for (point, tensor) in result.activations.tensors {
            // Drop the batch axis: [1, T, …] → [T, …].
            tensors[point] = Tensor(shape: Array(tensor.shape.dropFirst()), data: tensor.data)
        }
        if let existing {
            evicted += activations.merge(tensors, into: existing)
            return existing
        }
        let vocab = model.config.vocabularySize
        let logits = result.logits.data
        let last = Array(logits[(logits.count - vocab)..<logits.count])
        let run = CachedRun(prompt: prompt, activations: tensors, lastLogits: last)
        if keepable { evicted += activations.insert(run) }
        return run
    }

    /// Bytes the activations at `points` take for a prompt of `tokens` tokens.
    static func estimatedBytes(_ points: [HookPoint], tokens: Int, config: ModelConfig) -> Int {
        points.reduce(0) { $0 + tokens * $1.shape(config: config, keys: tokens).reduce(1, *) } * MemoryLayout<Float>.size
    }
}
