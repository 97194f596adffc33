import Foundation
import Transformer

// MARK: - Head patching

/// Patching each attention head's output (`hook_z`, every position) into the corrupt run:
/// layers × heads.
public struct HeadPatchingResult: Sendable, Equatable {
    public enum Method: String, Sendable { case exact, attribution }
    public var method: Method
    public var metric: PatchingMetric
    public var layers: [Int]
    public var heads: [Int]
    public var cleanValue: Double
    public var corruptValue: Double
    /// `raw[i][h]`: the metric with head h of `layers[i]` restored (estimated, for attribution).
    public var raw: [[Double]]
    /// 0 = corrupt, 1 = clean.
    public var normalized: [[Double]]
}

/// Exact head patching: each head's clean `hook_z` (every position) restored into the corrupt run,
/// one variant per (layer, head). A variant resumes the corrupt run at its layer from the corrupt
/// residual stream (nothing below changes), and the variants run batched, a few layers at a time.
public enum HeadPatching {
    /// Rows of resumed variants per batched pass.
    static let rowsPerPass = 1536

    public static func exact(model: Model, clean: [Int], corrupt: [Int], metric: PatchingMetric, layers: [Int]? = nil,
                             tokenizer: Tokenizer? = nil, context: TaskContext = .none) throws -> HeadPatchingResult {
        let c = model.config
        let (layers, _) = try AttributionPatching.check(model: model, clean: clean, corrupt: corrupt, metric: metric,
                                                        layers: layers, positions: nil, tokenizer: tokenizer)
        let quiet = TaskContext(isCancelled: { context.isCancelled })
        let count = clean.count, hd = c.headDim
        // The clean run's z and the corrupt run's residual streams and KV cache.
        let cleanZ = ActivationCache(), corruptResid = ActivationCache()
        let cleanHooks = HookSet(), corruptHooks = HookSet()
        cleanHooks.cache(layers.map(HookPoint.z), into: cleanZ)
        corruptHooks.cache(layers.map(HookPoint.residPre), into: corruptResid)
        var caches = [model.makeCache()]
        let cleanLogits = try model.forward([clean], caches: &caches, hooks: cleanHooks, logits: .last, context: quiet)
        let cleanValue = metric.value(cleanLogits.data[...])
        caches = [model.makeCache()]
        let corruptLogits = try model.forward([corrupt], caches: &caches, hooks: corruptHooks, logits: .last, context: quiet)
        let corruptValue = metric.value(corruptLogits.data[...])
        let corruptCache = caches[0]

        let sorted = layers.sorted()
        let layersPerPass = max(1, rowsPerPass / (count * c.headCount))
        var values: [Int: [Double]] = [:]
        var start = 0
        while start < sorted.count {
            try context.checkCancelled()
            let chunk = Array(sorted[start..<min(sorted.count, start + layersPerPass)])
            var batch = ResumedBatch()
            let hooks = HookSet()
            for (li, l) in chunk.enumerated() {
                guard let stream = corruptResid[.residPre(l)]?.data, let z = cleanZ[.z(l)]?.data else { continue }
                for h in 0..<c.headCount {
                    let b = li * c.headCount + h
                    batch.append(rows: stream, position: 0, startLayer: l, cache: corruptCache)
                    hooks.add(.z(l)) { view in
                        guard b < view.batch else { return }
                        for t in 0..<view.counts[b] {
                            let row = view.row(batch: b, position: t)
                            for i in 0..<hd { row[h * hd + i] = z[t * c.qDim + h * hd + i] }
                        }
                    }
                }
            }
            let logits = try batch.run(model: model, hooks: hooks, logits: .last, context: quiet)
            let scores = try Restoration.scores(logits.data, rows: batch.count, vocab: c.vocabularySize, metric: metric,
                                                context: context)
            for (li, l) in chunk.enumerated() { values[l] = Array(scores[li * c.headCount..<(li + 1) * c.headCount]) }
            start += chunk.count
            context.report(Double(start) / Double(sorted.count), "layer \(chunk.last.map { $0 + 1 } ?? 0)/\(c.layerCount)")
        }
        let raw = layers.map { values[$0] ?? [] }
        return HeadPatchingResult(method: .exact, metric: metric, layers: layers, heads: Array(0..<c.headCount),
                                  cleanValue: cleanValue, corruptValue: corruptValue, raw: raw,
                                  normalized: Restoration.normalize(raw, clean: cleanValue, corrupt: corruptValue))
    }
}
