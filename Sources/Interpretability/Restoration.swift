import Foundation
import Transformer

// MARK: - The shared restoring sweep

/// The machinery activation patching and causal tracing share: a clean run, the corrupted runs,
/// and every (layer, position, sample) restoration as a pass resumed at the patched layer.
///
/// Work is never done twice. The clean run records the activation to restore;
/// the corrupted runs record their KV caches and the residual stream entering each patched layer.
/// A variant restoring layer L at position p then resumes its corrupted run at block L over rows
/// p... only (at block L + 1 for `resid_post` and `mlp_out`, whose block is otherwise unchanged):
/// the positions before p and the blocks below are the corrupted run's, taken from its cache (cut
/// to p from the start block on) and its recorded residuals. All variants go through one
/// resumed pass (up to `maxRows` rows): at block ℓ every variant with L ≤ ℓ is in the products, and
/// the unembedding is one product over every variant's last row. Where the clean and corrupted
/// inputs agree on positions 0...p, the two runs are equal there and the restored value is the
/// corrupted one, with no pass at all.
enum Restoration {
    /// Most rows in one resumed pass: it bounds the scratch memory and the time an interrupt waits
    /// (one block over this many rows), while a 30-layer × 10-position sweep still runs as one pass.
    static let maxRows = 1536

    /// Noise added to the embeddings of a corrupted run: `vectors[sample][position]` (`d_model` floats)
    /// for the absolute positions in `positions`.
    struct Noise {
        var positions: [Int]
        var vectors: [[[Float]]]

        /// Registers an embed hook adding sample `samples[i]`'s noise to batch row `firstRow + i`.
        func install(on hooks: HookSet, samples: [Int], firstRow: Int = 0) {
            hooks.add(.embed) { view in
                for (k, s) in samples.enumerated() {
                    let b = firstRow + k
                    for (i, p) in positions.enumerated() {
                        guard let t = view.windowRow(batch: b, absolutePosition: p) else { continue }
                        let row = view.row(batch: b, position: t)
                        let v = vectors[s][i]
                        for e in 0..<row.count { row[e] += v[e] }
                    }
                }
            }
        }
    }

    /// The metric of the clean run, the mean metric of the corrupted runs, and `raw[layers][positions]`:
    /// the mean metric with the clean activation of `hook` restored at each (layer, position).
    ///
    /// `corrupt` is run once per sample (with `noise[sample]` on its embeddings when given).
    /// `identicalPrefix` positions lead both runs with equal inputs (equal tokens, no noise). The
    /// restorations run in passes of at most `maxRows` rows. With `window` W > 1 each restoration
    /// restores `hook` at W consecutive layers around its layer at once (`windowLayers`).
    static func measure(model: Model, clean: [Int], corrupt: [Int], noise: Noise?, samples: Int, identicalPrefix: Int,
                        hook: HookSite, layers: [Int], positions: [Int], metric: PatchingMetric, window: Int = 1,
                        maxRows: Int = maxRows, context: TaskContext) throws -> (clean: Double, corrupt: Double, raw: [[Double]]) {
        let windows = window > 1
            ? Dictionary(layers.map { ($0, windowLayers($0, window: window, layerCount: model.config.layerCount)) },
                         uniquingKeysWith: { a, _ in a })
            : nil
        let planned = plan(count: corrupt.count, samples: samples, identicalPrefix: identicalPrefix, hook: hook,
                           layers: layers, positions: positions, layerCount: model.config.layerCount, windows: windows)
        let stages = (samples > 1 ? chunkBySample(planned, rows: maxRows).count : chunk(planned, rows: maxRows).count) + 1
        let (cleanValue, activations, corrupted) = try referenceRuns(
            model: model, clean: clean, corrupt: corrupt, noise: noise, samples: samples, hook: hook, layers: layers,
            positions: positions, metric: metric, windows: windows,
            context: context.stage(0, of: stages, label: samples > 1 ? "clean and noisy runs" : "clean and corrupt runs"))
        let corruptValue = corrupted.values.reduce(0, +) / Double(samples)
        // Inputs equal at every position make equal runs, whatever rounding the batch brings.
        try checkEffect(clean: cleanValue, corrupt: identicalPrefix >= corrupt.count ? cleanValue : corruptValue, metric: metric)

        // Positions inside the identical prefix: the restored activation is the corrupted one.
        var raw = [[Double]](repeating: [Double](repeating: 0, count: positions.count), count: layers.count)
        for (j, p) in positions.enumerated() where p < identicalPrefix {
            for i in layers.indices { raw[i][j] = corruptValue }
        }
        // Restorations that write the value already there (resid_pre of block 0 where the tokens
        // agree and no noise was added): the sample's corrupted metric, with no pass.
        var variants: [Variant] = []
        for v in planned {
            if restoresItsOwnValue(v, hook: hook, clean: activations, corrupted: corrupted, width: model.config.modelDim) {
                raw[v.layerIndex][v.positionIndex] += corrupted.values[v.sample] / Double(samples)
            } else {
                variants.append(v)
            }
        }
        // Noisy samples go through in order, so the bar can say which sample it is on.
        let chunks = samples > 1 ? chunkBySample(variants, rows: maxRows) : chunk(variants, rows: maxRows).map { ($0, "restorations") }
        for (k, (chunk, label)) in chunks.enumerated() {
            let values = try resume(model: model, variants: chunk, corrupted: corrupted, clean: activations, hook: hook,
                                    metric: metric, context: context.stage(1 + k, of: stages, label: label))
            for (v, value) in zip(chunk, values) { raw[v.layerIndex][v.positionIndex] += value / Double(samples) }
        }
        context.report(1, "done")
        return (cleanValue, corruptValue, raw)
    }

    // MARK: Variants

    /// True when the clean activation variant `v` restores equals, bit for bit, the corrupted one it
    /// replaces, so the pass would reproduce the corrupted run. Checked for the residual stream
    /// (recorded in both runs); attn_out and mlp_out are not recorded in the corrupted run.
    static func restoresItsOwnValue(_ v: Variant, hook: HookSite, clean: [Int: [Int: [Float]]], corrupted: Corrupted,
                                    width d: Int) -> Bool {
        guard v.window == nil, hook == .residPre || hook == .residPost, let value = clean[v.layer]?[v.position],
              let stream = corrupted.residuals[v.sample][v.layer], stream.count >= (v.position + 1) * d else { return false }
        return value.elementsEqual(stream[(v.position * d)..<((v.position + 1) * d)])
    }

    /// One restoration: layer `layers[layerIndex]` at position `positions[positionIndex]` in sample `sample`.
    struct Variant {
        var layerIndex: Int
        var positionIndex: Int
        var layer: Int
        var position: Int
        var sample: Int
        /// The block the resumed pass starts at (after the patched block for `resid_post` and `mlp_out`).
        var startLayer: Int
        /// Rows the resumed pass runs: positions `position...`.
        var rows: Int
        /// With a window: every layer restored (the pass starts at the first, from its resid_pre).
        var window: ClosedRange<Int>? = nil
    }

    /// The W consecutive layers restored for `layer` (the ROME paper's window: W/2 below it, the
    /// rest from it up), clipped to the model.
    static func windowLayers(_ layer: Int, window: Int, layerCount: Int) -> ClosedRange<Int> {
        let lo = max(0, layer - window / 2)
        let hi = min(layerCount - 1, layer + (window + 1) / 2 - 1)
        return lo...max(lo, hi)
    }

    /// Every (layer, position, sample) outside the identical prefix, sorted by start layer.
    static func plan(count: Int, samples: Int, identicalPrefix: Int, hook: HookSite, layers: [Int], positions: [Int],
                     layerCount: Int, windows: [Int: ClosedRange<Int>]? = nil) -> [Variant] {
        var variants: [Variant] = []
        for (i, l) in layers.enumerated() {
            let window = windows?[l]
            for (j, p) in positions.enumerated() where p >= identicalPrefix {
                for s in 0..<samples {
                    variants.append(Variant(layerIndex: i, positionIndex: j, layer: l, position: p, sample: s,
                                            startLayer: window?.lowerBound ?? (hook.resumesAfterItsBlock ? l + 1 : l),
                                            rows: count - p, window: window))
                }
            }
        }
        return variants.sorted { $0.startLayer < $1.startLayer }
    }

    /// Splits sorted variants into passes of at most `rows` rows, dealt round-robin so every pass
    /// spans all start layers (big products at every block) and stays sorted.
    static func chunk(_ variants: [Variant], rows: Int) -> [[Variant]] {
        let total = variants.reduce(0) { $0 + $1.rows }
        guard total > 0 else { return [] }
        let count = (total + rows - 1) / rows
        var chunks = [[Variant]](repeating: [], count: count)
        for (k, v) in variants.enumerated() { chunks[k % count].append(v) }
        return chunks
    }

    /// Splits variants into passes of whole noise samples taken in order (a sample too big for one
    /// pass is dealt over several), each pass sorted by start layer, with a label naming its samples.
    static func chunkBySample(_ variants: [Variant], rows: Int) -> [([Variant], String)] {
        let samples = (variants.map(\.sample).max() ?? -1) + 1
        var bySample = [[Variant]](repeating: [], count: samples)
        for v in variants { bySample[v.sample].append(v) }
        var out: [([Variant], String)] = []
        var current: [Variant] = [], first = 0, used = 0
        func flush(through last: Int) {
            guard !current.isEmpty else { return }
            let which = first == last ? "noise sample \(first + 1)/\(samples)" : "noise samples \(first + 1)–\(last + 1)/\(samples)"
            out.append((current.sorted { $0.startLayer < $1.startLayer }, which))
            current = []; used = 0
        }
        for s in 0..<samples {
            let size = bySample[s].reduce(0) { $0 + $1.rows }
            if size > rows {
                flush(through: s - 1)
                let parts = chunk(bySample[s], rows: rows)
                for (k, part) in parts.enumerated() {
                    out.append((part, "noise sample \(s + 1)/\(samples), part \(k + 1)/\(parts.count)"))
                }
                first = s + 1
                continue
            }
            if used + size > rows { flush(through: s - 1); first = s }
            if current.isEmpty { first = s }
            current += bySample[s]; used += size
        }
        flush(through: samples - 1)
        return out
    }

    // MARK: Runs

    /// The corrupted runs, one per sample, batched.
    struct Corrupted {
        /// Each sample's KV cache over the whole prompt.
        var caches: [KVCache]
        /// `residuals[sample][layer]`: the residual stream entering the pass that restores `layer`
        /// (its resid_pre, or its resid_post when the pass starts after it), every position, `[T, d_model]`.
        var residuals: [[Int: [Float]]]
        /// `middles[sample][layer]`: resid_mid of `layer`, every position (for `mlp_out` only).
        var middles: [[Int: [Float]]]
        /// Each sample's metric.
        var values: [Double]
    }

    /// The clean run and the corrupted runs (one per sample) as one batch: the clean prompt is
    /// sequence 0 and sample s is sequence 1 + s, so the weights are read once for all of them.
    /// Returns the clean metric, the clean activation of `hook` at every (layer, position) selected
    /// (`[layer][position] → [d_model]`), and the corrupted runs. `clean` and `corrupt` have equal lengths.
    ///
    /// With `windows`, the clean activations are those of every layer of every window, and the
    /// corrupted residual streams are the resid_pre of each window's first layer.
    static func referenceRuns(model: Model, clean: [Int], corrupt: [Int], noise: Noise?, samples: Int, hook: HookSite,
                              layers: [Int], positions: [Int], metric: PatchingMetric, windows: [Int: ClosedRange<Int>]? = nil,
                              context: TaskContext) throws -> (clean: Double, activations: [Int: [Int: [Float]]], corrupted: Corrupted) {
        let hooks = HookSet()
        noise?.install(on: hooks, samples: Array(0..<samples), firstRow: 1)
        var activations: [Int: [Int: [Float]]] = [:]
        var residuals = [[Int: [Float]]](repeating: [:], count: samples)
        var middles = [[Int: [Float]]](repeating: [:], count: samples)
        let restored = windows.map { Set($0.values.flatMap { Array($0) }) } ?? Set(layers)
        for l in restored {
            hooks.add(hook.point(l)) { view in
                for p in positions {
                    guard let t = view.windowRow(batch: 0, absolutePosition: p) else { continue }
                    activations[l, default: [:]][p] = Array(view.row(batch: 0, position: t))
                }
            }
        }
        if let windows {
            for l in Set(windows.values.map(\.lowerBound)) {
                hooks.add(.residPre(l)) { view in
                    for b in 1..<view.batch { residuals[b - 1][l] = allRows(view, b) }
                }
            }
        }
        for l in Set(layers) where windows == nil {
            hooks.add(hook.resumesAfterItsBlock ? .residPost(l) : .residPre(l)) { view in
                for b in 1..<view.batch { residuals[b - 1][l] = allRows(view, b) }
            }
            if hook == .mlpOut {
                hooks.add(.residMid(l)) { view in
                    for b in 1..<view.batch { middles[b - 1][l] = allRows(view, b) }
                }
            }
        }
        var caches = [KVCache](repeating: model.makeCache(), count: 1 + samples)
        let logits = try model.forward([clean] + [[Int]](repeating: corrupt, count: samples), caches: &caches, hooks: hooks,
                                       logits: .last, context: context)
        let vocab = model.config.vocabularySize
        let values = (0...samples).map { metric.value(logits.data[$0 * vocab..<($0 + 1) * vocab]) }
        let corrupted = Corrupted(caches: Array(caches[1...]), residuals: residuals, middles: middles, values: Array(values[1...]))
        return (values[0], activations, corrupted)
    }

    /// Every row of sequence `b` in `view`, `[rows, width]`.
    private static func allRows(_ view: ActivationView, _ b: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: view.row(batch: b, position: 0).baseAddress, count: view.counts[b] * view.width))
    }

    /// Runs `variants` (sorted by start layer) as one resumed pass; the metric of each.
    static func resume(model: Model, variants: [Variant], corrupted: Corrupted, clean: [Int: [Int: [Float]]],
                       hook: HookSite, metric: PatchingMetric, context: TaskContext) throws -> [Double] {
        let d = model.config.modelDim
        let hooks = HookSet()
        var batch = ResumedBatch()
        for (b, v) in variants.enumerated() {
            if let window = v.window {
                // From the window's first block on the corrupted stream, with the clean activation
                // written at every layer of the window.
                guard let stream = corrupted.residuals[v.sample][window.lowerBound] else { throw missing(v) }
                var first: [Float]?
                for l in window {
                    guard let value = clean[l]?[v.position] else { throw missing(v) }
                    if hook == .residPre && l == window.lowerBound {
                        first = value
                    } else {
                        hooks.replace(hook.point(l), positions: [v.position], with: value, batch: b)
                    }
                }
                batch.append(rows: Array(stream[(v.position * d)...]), firstRow: first, position: v.position,
                             startLayer: v.startLayer, cache: corrupted.caches[v.sample])
                continue
            }
            guard let stream = corrupted.residuals[v.sample][v.layer], let value = clean[v.layer]?[v.position] else {
                throw missing(v)
            }
            // The corrupted residual stream from position p on, entering the start block, over the
            // corrupted cache; the restored row is the start itself for the residual sites.
            let rows = Array(stream[(v.position * d)...])
            var first: [Float]?
            switch hook {
            case .residPre, .residPost:
                first = value
            case .mlpOut:
                // resid_post = resid_mid + mlp_out; the other rows' block output is the corrupted one.
                guard let middle = corrupted.middles[v.sample][v.layer] else { throw missing(v) }
                first = (0..<d).map { e in middle[v.position * d + e] + value[e] }
            case .attnOut, .residMid:
                hooks.replace(hook.point(v.layer), positions: [v.position], with: value, batch: b)
            }
            batch.append(rows: rows, firstRow: first, position: v.position, startLayer: v.startLayer,
                         cache: corrupted.caches[v.sample])
        }
        let logits = try batch.run(model: model, hooks: hooks, context: context)
        let vocab = model.config.vocabularySize
        return try scores(logits.data, rows: variants.count, vocab: vocab, metric: metric, context: context)
    }

    private static func missing(_ v: Variant) -> AnalysisError {
        .layerNotRecorded(v.layer)
    }

    /// The metric of each `vocab`-wide row of `logits`, rows shared between the cores.
    static func scores(_ logits: [Float], rows: Int, vocab: Int, metric: PatchingMetric,
                       context: TaskContext) throws -> [Double] {
        try context.checkCancelled()
        var out = [Double](repeating: 0, count: rows)
        out.withUnsafeMutableBufferPointer { o in
            nonisolated(unsafe) let base = o.baseAddress!
            DispatchQueue.concurrentPerform(iterations: min(rows, 2)) { part in
                for r in stride(from: part, to: rows, by: 2) {
                    base[r] = metric.value(logits[r * vocab..<(r + 1) * vocab])
                }
            }
        }
        return out
    }

    static func checkEffect(clean: Double, corrupt: Double, metric: PatchingMetric) throws {
        guard abs(clean - corrupt) > 1e-9 else { throw AnalysisError.noEffect(metric: metric.name, value: Float(clean)) }
    }

    static func normalize(_ raw: [[Double]], clean: Double, corrupt: Double) -> [[Double]] {
        raw.map { row in row.map { ($0 - corrupt) / (clean - corrupt) } }
    }
}

extension HookSite {
    /// True when restoring this site leaves the rest of its block as in the corrupted run, so the
    /// restoring pass starts at the next block: `resid_post`, and `mlp_out` (the block's last step;
    /// the other positions' MLP outputs do not depend on the restored one).
    var resumesAfterItsBlock: Bool { self == .residPost || self == .mlpOut }
}
