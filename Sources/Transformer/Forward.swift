import COpenBLAS
import Foundation

// MARK: - Run state

/// Scratch buffers for one forward call over N = batch × positions rows (llama2.c's `RunState`).
/// Hooks see these buffers directly.
final class RunState {
    let n: Int
    let x: UnsafeMutablePointer<Float>        // [N, d_model]   the residual stream
    let xb: UnsafeMutablePointer<Float>       // [N, d_model]   normalised residual (ln1 / ln2 / ln_final)
    let q: UnsafeMutablePointer<Float>        // [N, H·d_head]
    let k: UnsafeMutablePointer<Float>        // [N, H_kv·d_head]
    let v: UnsafeMutablePointer<Float>        // [N, H_kv·d_head]
    let att: UnsafeMutablePointer<Float>      // [B, T, H, keys] scores, then pattern
    let z: UnsafeMutablePointer<Float>        // [N, H·d_head]  attention-weighted values
    let out: UnsafeMutablePointer<Float>      // [N, d_model]   attn_out, then mlp_out
    let gate: UnsafeMutablePointer<Float>     // [N, d_ff]      mlp_pre
    let up: UnsafeMutablePointer<Float>       // [N, d_ff]
    let hb: UnsafeMutablePointer<Float>       // [N, d_ff]      mlp_post
    private let buffers: [UnsafeMutablePointer<Float>]

    init(config c: ModelConfig, rows n: Int, attentionFloats: Int) {
        self.n = n
        func make(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            return p
        }
        x = make(n * c.modelDim); xb = make(n * c.modelDim)
        q = make(n * c.qDim); k = make(n * c.kvDim); v = make(n * c.kvDim)
        att = make(attentionFloats); z = make(n * c.qDim); out = make(n * c.modelDim)
        gate = make(n * c.ffnDim); up = make(n * c.ffnDim); hb = make(n * c.ffnDim)
        buffers = [x, xb, q, k, v, att, z, out, gate, up, hb]
    }

    deinit { for b in buffers { b.deallocate() } }
}

/// Which positions get logits.
public enum LogitsSelection: Sendable {
    case all     // every position: [B, T, vocab]
    case last    // the last position of each sequence: [B, 1, vocab]
    case none    // no unembedding: [B, 0, vocab]
}

// MARK: - Forward pass

extension Model {
    /// The llama-family forward pass over a batch of sequences.
    ///
    /// `tokens[b]` are the new tokens of sequence `b` (all the same count T); they continue
    /// `caches[b]` (empty for a fresh prompt, or a copy of a shared prefix), which grows by T.
    /// Hooks in `hooks` run at each `HookPoint`, seeing `[B][T][width]` views whose row 0 is at
    /// absolute position `caches[b].length`. Returns logits `[B, T or 1 or 0, vocab]`.
    ///
    /// With `stopAfterLayer: L` the pass ends after block L (for reading activations up to L, e.g.
    /// a lens or a probe): no logits are computed and the caches are left as they were.
    public func forward(_ tokens: [[Int]], caches: inout [KVCache], hooks: HookSet? = nil,
                        logits selection: LogitsSelection = .all, stopAfterLayer: Int? = nil,
                        context: TaskContext = .none) throws -> Tensor {
        let c = config
        let batch = tokens.count
        guard batch > 0, caches.count == batch else {
            throw TransformerError.badBatch("there are \(batch) sequences but \(caches.count) KV caches")
        }
        let count = tokens[0].count
        guard count > 0, tokens.allSatisfy({ $0.count == count }) else {
            throw TransformerError.badBatch("every sequence needs the same, nonzero number of new tokens")
        }
        for seq in tokens { for t in seq where t < 0 || t >= c.vocabularySize {
            throw TransformerError.tokenOutOfRange(token: t, vocabularySize: c.vocabularySize)
        } }
        if let stop = stopAfterLayer, stop < 0 || stop >= c.layerCount {
            throw TransformerError.layerOutOfRange(layer: stop, layerCount: c.layerCount)
        }
        let lastLayer = stopAfterLayer ?? c.layerCount - 1
        let starts = caches.map(\.length)                             // [B] absolute position of row 0
        let keys = (starts.max() ?? 0) + count                        // attention width (longest sequence)
        guard keys <= c.contextLength else { throw TransformerError.contextOverflow(needed: keys, contextLength: c.contextLength) }
        let n = batch * count                                         // rows in every buffer
        let positions = (0..<n).map { starts[$0 / count] + $0 % count } // [N] absolute position of each row
        let hooks = hooks.flatMap { $0.isEmpty ? nil : $0 }
        // Attention weights are materialised whole ([B, T, H, keys]) only where a hook must see them;
        // otherwise a few query rows at a time, so long prompts do not need T² memory.
        let attentionHooked = hooks?.points.contains { $0.isAttentionWidth } ?? false
        let queryChunk = attentionHooked ? count : max(1, min(count, Self.attentionChunkFloats / (c.headCount * keys)))
        let s = RunState(config: c, rows: n, attentionFloats: (attentionHooked ? n : queryChunk) * c.headCount * keys)

        /// Calls the hooks at `point` with a view of `buffer` (no work when nothing is registered).
        func hook(_ point: HookPoint, _ buffer: UnsafeMutablePointer<Float>) throws {
            guard let hooks, hooks.contains(point) else { return }
            try hooks.run(ActivationView(point: point, batch: batch, positions: count,
                                         shape: point.shape(config: c, keys: keys), startPositions: starts, base: buffer))
        }

        // Token embeddings: x[N, d] = W_E[tokens].
        for (r, token) in tokens.joined().enumerated() {
            weights.tokenEmbedding.dequantizeRows(token..<token + 1, into: s.x + r * c.modelDim)
        }
        try hook(.embed, s.x)

        // A hook or a cancellation may throw mid-pass: then the keys and values this call already
        // appended are dropped, so the caches stay consistent with their length.
        do {
            for l in 0...lastLayer {
                try context.checkCancelled()
                let w = weights.blocks[l]
                try hook(.residPre(l), s.x)

                // Attention: ln1 → q, k, v → RoPE → causal softmax(q·kᵀ/√d_head) · v → W_O.
                rmsnorm(s.xb, s.x, w.attnNorm, n: n, eps: c.normEpsilon)
                try hook(.ln1Normalized(l), s.xb)
                matmul([s.q, s.k, s.v], s.xb, [w.wq, w.wk, w.wv], n: n)
                if let b = w.bq { addBias(s.q, b, n: n) }
                if let b = w.bk { addBias(s.k, b, n: n) }
                if let b = w.bv { addBias(s.v, b, n: n) }
                try hook(.q(l), s.q)
                try hook(.k(l), s.k)
                try hook(.v(l), s.v)
                rope(s.q, positions: positions, heads: c.headCount, headDim: c.headDim, frequencies: ropeFrequencies, style: c.ropeStyle)
                rope(s.k, positions: positions, heads: c.kvHeadCount, headDim: c.headDim, frequencies: ropeFrequencies, style: c.ropeStyle)
                for b in 0..<batch {
                    caches[b].append(layer: l, k: s.k + b * count * c.kvDim, v: s.v + b * count * c.kvDim, rows: count)
                }
                let hookedPattern = hooks?.contains(.attnScores(l)) == true || hooks?.contains(.pattern(l)) == true
                try attention(s.z, s.q, s.att, caches: caches, layer: l, starts: starts, count: count, keys: keys,
                              queryChunk: hookedPattern ? count : queryChunk, hook: hookedPattern ? hook : nil)
                try hook(.z(l), s.z)
                matmul(s.out, s.z, w.wo, n: n)
                try hook(.attnOut(l), s.out)
                addInPlace(s.x, s.out, count: n * c.modelDim)
                try hook(.residMid(l), s.x)

                // MLP: ln2 → SwiGLU(W_gate·x, W_up·x) → W_down.
                rmsnorm(s.xb, s.x, w.ffnNorm, n: n, eps: c.normEpsilon)
                try hook(.ln2Normalized(l), s.xb)
                matmul([s.gate, s.up], s.xb, [w.wGate, w.wUp], n: n)
                try hook(.mlpPre(l), s.gate)
                swiglu(s.hb, s.gate, s.up, count: n * c.ffnDim)
                try hook(.mlpPost(l), s.hb)
                matmul(s.out, s.hb, w.wDown, n: n)
                try hook(.mlpOut(l), s.out)
                addInPlace(s.x, s.out, count: n * c.modelDim)
                try hook(.residPost(l), s.x)
                context.report(Double(l + 1) / Double(lastLayer + 1), "layer \(l + 1)/\(lastLayer + 1)")
            }
        } catch {
            for b in 0..<batch { caches[b].removeUncommitted(layers: 0...(c.layerCount - 1)) }
            throw error
        }
        if stopAfterLayer != nil {
            // Stopped early: drop the keys and values this call added, so each cache stays whole.
            for b in 0..<batch { caches[b].removeUncommitted(layers: 0...lastLayer) }
            return Tensor(shape: [batch, 0, c.vocabularySize], data: [])
        }
        for b in 0..<batch { caches[b].commit(rows: count) }

        // Final norm and unembedding.
        rmsnorm(s.xb, s.x, weights.finalNorm, n: n, eps: c.normEpsilon)
        try hook(.lnFinalNormalized, s.xb)
        return unembed(s.xb, selection: selection, batch: batch, count: count)
    }

    /// logits[B, T', vocab] = xb[selected rows] · W_Uᵀ.
    private func unembed(_ xb: UnsafeMutablePointer<Float>, selection: LogitsSelection, batch: Int, count: Int) -> Tensor {
        let d = config.modelDim, vocab = config.vocabularySize
        let rows: [Int]
        switch selection {
        case .all: rows = Array(0..<batch * count)
        case .last: rows = (0..<batch).map { $0 * count + count - 1 }
        case .none: rows = []
        }
        let perSequence = rows.count / batch
        guard !rows.isEmpty else { return Tensor(shape: [batch, 0, vocab], data: []) }
        var picked = [Float](repeating: 0, count: rows.count * d)   // [rows, d_model]
        for (i, r) in rows.enumerated() { for j in 0..<d { picked[i * d + j] = xb[r * d + j] } }
        var logits = [Float](repeating: 0, count: rows.count * vocab)   // [rows, vocab]
        picked.withUnsafeBufferPointer { p in
            logits.withUnsafeMutableBufferPointer { o in
                matmul(o.baseAddress!, p.baseAddress!, weights.output, n: rows.count)
            }
        }
        return Tensor(shape: [batch, perSequence, vocab], data: logits)
    }

    /// z[N, H·d_head] = causal softmax(q·kᵀ/√d_head) · v over each sequence's cached keys and values
    /// (`att` is scratch for the weights). With `hook`, the whole [B, T, H, keys] scores and pattern
    /// are built so the hooks at `attnScores`/`pattern` see (and may change) them; without, the
    /// weights are made `queryChunk` query rows at a time.
    private func attention(_ z: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, _ att: UnsafeMutablePointer<Float>,
                           caches: [KVCache], layer l: Int, starts: [Int], count: Int, keys: Int, queryChunk: Int,
                           hook: ((HookPoint, UnsafeMutablePointer<Float>) throws -> Void)?) throws {
        let perSequence = count * config.headCount * keys             // floats of one sequence's [T, H, keys]
        if let hook {
            for b in caches.indices {
                attentionScores(att + b * perSequence, q, cache: caches[b], batchIndex: b, layer: l,
                                start: starts[b], rows: 0..<count, count: count, keys: keys)
            }
            try hook(.attnScores(l), att)
            for r in 0..<(caches.count * count * config.headCount) { softmax(att + r * keys, count: keys) }
            try hook(.pattern(l), att)
            for b in caches.indices {
                attentionValues(z, att + b * perSequence, cache: caches[b], batchIndex: b, layer: l,
                                start: starts[b], rows: 0..<count, count: count, keys: keys)
            }
            return
        }
        for b in caches.indices {
            for t0 in stride(from: 0, to: count, by: queryChunk) {
                let rows = t0..<min(count, t0 + queryChunk)
                attentionScores(att, q, cache: caches[b], batchIndex: b, layer: l, start: starts[b], rows: rows,
                                count: count, keys: keys)
                for r in 0..<(rows.count * config.headCount) { softmax(att + r * keys, count: keys) }
                attentionValues(z, att, cache: caches[b], batchIndex: b, layer: l, start: starts[b], rows: rows,
                                count: count, keys: keys)
            }
        }
    }

    /// Floats of attention weights held at once when no hook needs them whole (64 MB).
    nonisolated(unsafe) static var attentionChunkFloats = 16 << 20

    /// att[rows, H, keys] = q·kᵀ/√d_head for query rows `rows` of sequence `batchIndex` (whose
    /// first new position is absolute `start`); future and absent keys are -inf.
    private func attentionScores(_ att: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, cache: KVCache,
                                 batchIndex b: Int, layer l: Int, start: Int, rows: Range<Int>, count: Int, keys: Int) {
        let c = config, hd = c.headDim
        let scale = 1 / Float(hd).squareRoot()
        let length = start + rows.upperBound                        // keys the last of these rows can see
        cache.keys[l].withUnsafeBufferPointer { kBuffer in
            guard let kBase = kBuffer.baseAddress else { return }
            if rows.count <= quantisedKernelMaxRows {
                // Decode: a few query rows. Direct dot products; a BLAS call per head would cost more in
                // call and thread hand-off overhead than the arithmetic (and wakes BLAS's spinning threads).
                for (i, t) in rows.enumerated() {
                    let visible = min(length, start + t + 1)
                    for h in 0..<c.headCount {
                        let qh = q + (b * count + t) * c.qDim + h * hd, kh = kBase + (h / c.groupSize) * hd
                        let row = att + (i * c.headCount + h) * keys
                        for j in 0..<visible { row[j] = scale * dotF32(kh + j * c.kvDim, qh, count: hd) }
                    }
                }
                return
            }
            for h in 0..<c.headCount {
                let kvh = h / c.groupSize
                // [rows, length] block of head h, rows strided by H·keys.
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows.count), Int32(length), Int32(hd),
                            scale, q + (b * count + rows.lowerBound) * c.qDim + h * hd, Int32(c.qDim),
                            kBase + kvh * hd, Int32(c.kvDim), 0, att + h * keys, Int32(c.headCount * keys))
            }
        }
        // Causal mask: row t (absolute start + t) sees keys 0...start + t.
        for (i, t) in rows.enumerated() {
            for h in 0..<c.headCount {
                let row = att + (i * c.headCount + h) * keys
                for j in (start + t + 1)..<max(keys, start + t + 1) { row[j] = -.infinity }
            }
        }
    }

    /// z[rows of sequence b, H·d_head] = pattern · V, with pattern laid out [rows, H, keys].
    private func attentionValues(_ z: UnsafeMutablePointer<Float>, _ att: UnsafePointer<Float>, cache: KVCache,
                                 batchIndex b: Int, layer l: Int, start: Int, rows: Range<Int>, count: Int, keys: Int) {
        let c = config, hd = c.headDim
        let length = start + rows.upperBound
        cache.values[l].withUnsafeBufferPointer { vBuffer in
            guard let vBase = vBuffer.baseAddress else { return }
            if rows.count <= quantisedKernelMaxRows {
                // Decode: z_h = Σ_j p_j · v_j directly (see attentionScores).
                for (i, t) in rows.enumerated() {
                    for h in 0..<c.headCount {
                        let p = att + (i * c.headCount + h) * keys, vh = vBase + (h / c.groupSize) * hd
                        let zh = z + (b * count + t) * c.qDim + h * hd
                        zh.initialize(repeating: 0, count: hd)
                        for j in 0..<length { axpy(zh, p[j], vh + j * c.kvDim, count: hd) }
                    }
                }
                return
            }
            for h in 0..<c.headCount {
                let kvh = h / c.groupSize
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows.count), Int32(hd), Int32(length),
                            1, att + h * keys, Int32(c.headCount * keys),
                            vBase + kvh * hd, Int32(c.kvDim), 0, z + (b * count + rows.lowerBound) * c.qDim + h * hd, Int32(c.qDim))
            }
        }
    }
}
