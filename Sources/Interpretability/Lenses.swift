import Foundation
import Transformer

// MARK: - Result

/// How early each read-out agrees with the model's own next token: precision@1 per layer, per
/// method, over every position of the texts (the Patchscopes paper's §4.1).
public struct LensesResult: Sendable, Equatable {
    public enum Method: String, Sendable, CaseIterable {
        case logitLens = "logit lens"
        case tunedLens = "tuned lens"
        case identity = "identity Patchscope"
    }
    public var layers: [Int]
    public var methods: [Method]
    /// `precision[m][i]`: share of positions where method m at `layers[i]` reads the model's own top-1.
    public var precision: [[Double]]
    /// Positions scored (every position of every text).
    public var positions: Int
    public var texts: Int
}

// MARK: - Lenses

/// Reads every position of every text at every selected layer three ways and scores each against
/// the model's own next token. Each text runs once (its residual stream and its final top-1); the
/// identity Patchscope's target runs once, and each read-out resumes a single row — the state in
/// the placeholder, which is the target's last token — from the block after its layer, over the
/// target's KV cache, many rows in one batched pass.
public enum Lenses {
    /// Rows per resumed pass of identity read-outs.
    static let identityBatch = 128

    public static func precision(model: Model, texts: [[Int]], layers: [Int]? = nil, tuned: TunedLens?,
                                 identity: (ids: [Int], position: Int)?, context: TaskContext = .none) throws -> LensesResult {
        let c = model.config, d = c.modelDim
        let layers = layers ?? Array(0..<c.layerCount)
        try Check.layers(layers, c)
        guard !texts.isEmpty, texts.allSatisfy({ !$0.isEmpty }) else { throw AnalysisError.emptyPrompt }
        var methods: [LensesResult.Method] = [.logitLens]
        if tuned != nil { methods.append(.tunedLens) }
        if identity != nil { methods.append(.identity) }
        var hits = [[Int]](repeating: [Int](repeating: 0, count: layers.count), count: methods.count)
        var positions = 0

        // The identity target once: its KV cache and resid_post of each layer from the placeholder on.
        var target: (cache: KVCache, rows: [Int: [Float]])?
        if let identity {
            target = try ResumedBatch.record(model: model, ids: identity.ids, position: identity.position, layers: Set(layers),
                                             context: TaskContext(isCancelled: { context.isCancelled }))
        }

        for (t, text) in texts.enumerated() {
            let stage = context.stage(t, of: texts.count, label: "text \(t + 1)/\(texts.count)")
            // 1. The text once: every selected layer's states and the model's own top-1 at each position.
            var states: [Int: [Float]] = [:]
            let hooks = HookSet()
            for l in Set(layers) {
                hooks.add(.residPost(l)) { view in
                    var rows: [Float] = []
                    rows.reserveCapacity(view.positions * d)
                    for p in 0..<view.positions { rows += view.row(batch: 0, position: p) }
                    states[l] = rows
                }
            }
            var caches = [model.makeCache()]
            let logits = try model.forward([text], caches: &caches, hooks: hooks, logits: .all,
                                           context: TaskContext(isCancelled: { context.isCancelled }))
            let vocab = c.vocabularySize
            let own = (0..<text.count).map { p in Sampler.argmax(Array(logits.data[p * vocab..<(p + 1) * vocab])) }
            positions += text.count

            // 2. Logit lens and tuned lens: every (layer, position) through the final norm and unembedding.
            var all: [Float] = []
            all.reserveCapacity(layers.count * text.count * d)
            for l in layers { all += states[l] ?? [] }
            let rows = layers.count * text.count
            let lens = try model.topTokens(ofResiduals: all, rows: rows, k: 1, context: stage)
            for i in layers.indices { for p in 0..<text.count where lens[i * text.count + p].first?.id == own[p] { hits[0][i] += 1 } }
            if let tuned, let m = methods.firstIndex(of: .tunedLens) {
                var translated: [Float] = []
                translated.reserveCapacity(all.count)
                for l in layers { translated += tuned.translate(states[l] ?? [], rows: text.count, layer: l) }
                let read = try model.topTokens(ofResiduals: translated, rows: rows, k: 1, context: stage)
                for i in layers.indices { for p in 0..<text.count where read[i * text.count + p].first?.id == own[p] { hits[m][i] += 1 } }
            }

            // 3. Identity Patchscope: each state into the target's placeholder at its own layer.
            if let target, let identity, let m = methods.firstIndex(of: .identity) {
                var variants: [(layerIndex: Int, position: Int)] = []
                for (i, _) in layers.enumerated() { for p in 0..<text.count { variants.append((i, p)) } }
                variants.sort { layers[$0.layerIndex] < layers[$1.layerIndex] }
                var start = 0
                while start < variants.count {
                    try context.checkCancelled()
                    let chunk = variants[start..<min(variants.count, start + identityBatch)]
                    var resumed = ResumedBatch()
                    for v in chunk {
                        let l = layers[v.layerIndex]
                        resumed.append(rows: target.rows[l] ?? [], firstRow: Array((states[l] ?? [])[v.position * d..<(v.position + 1) * d]),
                                       position: identity.position, startLayer: l + 1, cache: target.cache)
                    }
                    let logits = try resumed.run(model: model, context: TaskContext(isCancelled: { context.isCancelled }))
                    let vocab = c.vocabularySize
                    for (b, v) in chunk.enumerated() where Sampler.argmax(Array(logits.data[b * vocab..<(b + 1) * vocab])) == own[v.position] {
                        hits[m][v.layerIndex] += 1
                    }
                    start += identityBatch
                    stage.report(Double(start) / Double(variants.count), "identity read-outs")
                }
            }
            stage.report(1, "")
        }
        let precision = hits.map { row in row.map { Double($0) / Double(max(positions, 1)) } }
        return LensesResult(layers: layers, methods: methods, precision: precision, positions: positions, texts: texts.count)
    }
}
