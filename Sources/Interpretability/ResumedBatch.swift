import Transformer

// MARK: - Resumed passes

/// The sequences of one resumed pass, prepared the one way every sweep prepares them.
///
/// A variant that changes one row at block L of a run already made equals that run below L and
/// before the changed position, so it need not compute those again: it starts at block L from the
/// recorded residual stream (rows `position...`, the first one replaced) over the recorded KV cache
/// cut to `position` from block L on. Patchscope, the identity lens, the restoring sweep of
/// activation patching and causal tracing, and exact head patching (whose variants change every
/// row, so they resume from position 0) build their variants here, and tests hold each resumed
/// sweep equal to the same sweep done through hooks on whole passes.
struct ResumedBatch {
    private(set) var residuals: [[Float]] = []
    private(set) var startLayers: [Int] = []
    /// Each sequence's KV cache; after `run`, the caches extended by the pass (for decoding steps).
    var caches: [KVCache] = []

    var count: Int { residuals.count }

    /// Adds a sequence resuming at block `startLayer` from `rows` (`[n, d_model]`, the recorded
    /// residual stream entering that block at positions `position...`), its first row replaced by
    /// `firstRow` when given, over `cache` (the recorded run's) cut to `position` from `startLayer` on.
    mutating func append(rows: [Float], firstRow: [Float]? = nil, position: Int, startLayer: Int, cache: KVCache) {
        var rows = rows
        if let firstRow { rows.replaceSubrange(0..<firstRow.count, with: firstRow) }
        var cache = cache
        cache.truncate(to: position, fromLayer: startLayer)
        residuals.append(rows)
        startLayers.append(startLayer)
        caches.append(cache)
    }

    /// Runs `ids` once, unpatched, for variants that change row `position`: its KV cache and, for
    /// each of `layers`, `resid_post` of the rows `position...` (`[ids.count − position, d_model]`),
    /// which a variant patched at layer L resumes from at block L + 1.
    static func record(model: Model, ids: [Int], position: Int, layers: Set<Int>,
                       context: TaskContext) throws -> (cache: KVCache, rows: [Int: [Float]]) {
        let d = model.config.modelDim
        var rows: [Int: [Float]] = [:]
        let hooks = HookSet()
        for l in layers {
            hooks.add(.residPost(l)) { view in
                var out: [Float] = []
                out.reserveCapacity((ids.count - position) * d)
                for p in position..<ids.count {
                    guard let t = view.windowRow(batch: 0, absolutePosition: p) else { continue }
                    out += view.row(batch: 0, position: t)
                }
                rows[l] = out
            }
        }
        var caches = [model.makeCache()]
        _ = try model.forward([ids], caches: &caches, hooks: hooks, logits: .none, context: context)
        return (caches[0], rows)
    }

    /// Runs every sequence through one resumed pass (`Model.forward(residuals:startLayers:)`).
    mutating func run(model: Model, hooks: HookSet? = nil, logits: LogitsSelection = .last,
                      context: TaskContext) throws -> Tensor {
        try model.forward(residuals: residuals, startLayers: startLayers, caches: &caches, hooks: hooks,
                          logits: logits, context: context)
    }
}
