import Foundation

// MARK: - Metric

/// What the backward pass differentiates: a function of each sequence's last-position logits.
public enum GradientMetric: Sendable, Equatable {
    /// log p(answer) after softmax.
    case logProbability(answer: Int)
    /// p(answer) after softmax (what activation patching scores).
    case probability(answer: Int)
    /// logit(answer) − logit(against).
    case logitDifference(answer: Int, against: Int)

    /// The token ids the metric reads.
    public var tokens: [Int] {
        switch self {
        case .logProbability(let a), .probability(let a): return [a]
        case .logitDifference(let a, let b): return [a, b]
        }
    }

    /// The metric of one row of logits[vocab]; writes ∂metric/∂logits into `gradient[vocab]`.
    func evaluate(_ logits: UnsafePointer<Float>, vocab: Int, gradient: UnsafeMutablePointer<Float>) -> Double {
        switch self {
        case .logitDifference(let a, let b):
            gradient.update(repeating: 0, count: vocab)
            gradient[a] += 1
            gradient[b] -= 1
            return Double(logits[a]) - Double(logits[b])
        case .logProbability(let a), .probability(let a):
            // ∂ log p_a / ∂ logits = onehot(a) − p; ∂ p_a / ∂ logits = p_a (onehot(a) − p).
            let lse = logSumExp(UnsafeBufferPointer(start: logits, count: vocab))
            for i in 0..<vocab { gradient[i] = -Float(Foundation.exp(Double(logits[i]) - lse)) }
            gradient[a] += 1
            let logP = Double(logits[a]) - lse
            guard case .probability = self else { return logP }
            let p = Foundation.exp(logP)
            for i in 0..<vocab { gradient[i] *= Float(p) }
            return p
        }
    }
}

/// The forward half of a gradient pass: each sequence's last-position logits and its metric.
public struct GradientPass: Sendable {
    /// Last-position logits, [B, vocab].
    public var logits: Tensor
    /// The metric of each sequence, [B].
    public var metrics: [Double]
}

// MARK: - Tape

/// What the forward pass keeps for the backward pass, over all N rows of the batch, per block:
///
///     resid_pre [N, d_model]       (ln1's input)
///     q, k after RoPE [N, H·d_head], [N, H_kv·d_head]; v [N, H_kv·d_head]
///     resid_mid [N, d_model]       (ln2's input)
///     gate, up [N, d_ff]           (SwiGLU's inputs)
///
/// and for the Gemma 3 block also the inputs of its four extra norms: q and k before their per-head
/// norms, and W_O's and W_down's outputs [N, d_model] before the post-attention and post-MLP norms.
/// Only what a block keeps is allocated.
///
/// and the last block's output [N, d_model] (the final norm's input). The attention pattern is not
/// kept: the backward pass recomputes it from q and k one row of one head at a time. Only activation
/// gradients are made (no weight gradients), so nothing else is needed: on SmolLM2-135M this is 5,184
/// floats (20.7 KB) per row per block, 159 MB for a 256-token prompt.
final class BackwardTape {
    enum Kind: Int, CaseIterable { case residPre, rotatedQ, rotatedK, v, residMid, gate, up, rawQ, rawK, attnProjected, mlpProjected }

    let rows: Int
    private let widths: [Int]                             // [kind] floats per row
    private var kept: [[UnsafeMutablePointer<Float>?]]    // [kind][layer] → [rows, width]
    private(set) var final: UnsafeMutablePointer<Float>?  // [rows, d_model]
    private let modelDim: Int

    init(config c: ModelConfig, rows: Int) {
        self.rows = rows
        modelDim = c.modelDim
        widths = Kind.allCases.map { kind in
            switch kind {
            case .residPre, .residMid, .attnProjected, .mlpProjected: return c.modelDim
            case .rotatedQ, .rawQ: return c.qDim
            case .rotatedK, .v, .rawK: return c.kvDim
            case .gate, .up: return c.ffnDim
            }
        }
        kept = Kind.allCases.map { _ in [UnsafeMutablePointer<Float>?](repeating: nil, count: c.layerCount) }
    }

    deinit {
        for list in kept { for p in list { p?.deallocate() } }
        final?.deallocate()
    }

    /// Bytes held.
    var byteCount: Int {
        var total = final == nil ? 0 : rows * modelDim * 4
        for (k, list) in kept.enumerated() { total += list.compactMap { $0 }.count * rows * widths[k] * 4 }
        return total
    }

    /// Copies `buffer[rows, width]` as `kind` of block `layer`.
    func keep(_ kind: Kind, layer: Int, _ buffer: UnsafePointer<Float>) {
        let count = rows * widths[kind.rawValue]
        let copy = kept[kind.rawValue][layer] ?? UnsafeMutablePointer<Float>.allocate(capacity: count)
        copy.update(from: buffer, count: count)
        kept[kind.rawValue][layer] = copy
    }

    /// Copies the last block's output, the final norm's input.
    func keepFinal(_ buffer: UnsafePointer<Float>) {
        let copy = final ?? UnsafeMutablePointer<Float>.allocate(capacity: rows * modelDim)
        copy.update(from: buffer, count: rows * modelDim)
        final = copy
    }

    subscript(kind: Kind, layer: Int) -> UnsafePointer<Float> {
        guard let p = kept[kind.rawValue][layer] else { preconditionFailure("the forward pass kept no \(kind) for block \(layer)") }
        return UnsafePointer(p)
    }
}

// MARK: - Gradient state

/// The gradient buffers of one backward pass over N rows (the run state's mirror image).
final class GradientState {
    let dx: UnsafeMutablePointer<Float>       // [N, d_model]   ∂metric/∂residual stream
    let dxb: UnsafeMutablePointer<Float>      // [N, d_model]   ∂metric/∂normalised residual
    let dq: UnsafeMutablePointer<Float>       // [N, H·d_head]
    let dk: UnsafeMutablePointer<Float>       // [N, H_kv·d_head]
    let dv: UnsafeMutablePointer<Float>       // [N, H_kv·d_head]
    let dz: UnsafeMutablePointer<Float>       // [N, H·d_head]
    let dhb: UnsafeMutablePointer<Float>      // [N, d_ff]      ∂metric/∂mlp_post
    let dgate: UnsafeMutablePointer<Float>    // [N, d_ff]      ∂metric/∂mlp_pre
    let dup: UnsafeMutablePointer<Float>      // [N, d_ff]
    private let buffers: [UnsafeMutablePointer<Float>]

    init(config c: ModelConfig, rows n: Int) {
        func make(_ count: Int) -> UnsafeMutablePointer<Float> { UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1)) }
        dx = make(n * c.modelDim); dxb = make(n * c.modelDim)
        dq = make(n * c.qDim); dk = make(n * c.kvDim); dv = make(n * c.kvDim); dz = make(n * c.qDim)
        dhb = make(n * c.ffnDim); dgate = make(n * c.ffnDim); dup = make(n * c.ffnDim)
        buffers = [dx, dxb, dq, dk, dv, dz, dhb, dgate, dup]
    }

    deinit { for b in buffers { b.deallocate() } }
}

// MARK: - Backward pass

extension Model {
    /// Runs `tokens` forward (with `hooks`, as `forward` does) and back, from each sequence's metric
    /// at its last position to the embeddings. The gradient ∂metric/∂activation reaches the hooks in
    /// `gradientHooks` at the same hook points the forward pass has, as `[B][T][width]` views of the
    /// gradient buffers (a hook may rewrite them, e.g. zero a path). Sequences are independent: the
    /// gradient of sequence b is that of `metrics[b]` alone.
    ///
    /// A forward hook is taken as the identity when differentiating (a patched value's gradient is
    /// reported at its point as if the value had been computed there). Attention scores and patterns
    /// get no gradient hooks: the pattern is recomputed row by row, never held whole.
    public func gradients(_ tokens: [[Int]], metrics: [GradientMetric], hooks: HookSet? = nil, gradientHooks: HookSet,
                          context: TaskContext = .none) throws -> GradientPass {
        let c = config, d = c.modelDim, vocab = c.vocabularySize
        let batch = tokens.count
        guard batch > 0, metrics.count == batch else {
            throw TransformerError.metricCount(sequences: batch, metrics: metrics.count)
        }
        for m in metrics { for t in m.tokens where t < 0 || t >= vocab {
            throw TransformerError.tokenOutOfRange(token: t, vocabularySize: vocab)
        } }
        if let point = gradientHooks.points.first(where: \.isAttentionWidth) {
            throw TransformerError.noGradient(point: point.name)
        }
        let count = tokens.first?.count ?? 0
        let tape = BackwardTape(config: c, rows: batch * count)
        var caches = tokens.map { _ in makeCache() }
        let logits = try forward(tokens, caches: &caches, hooks: hooks, logits: .last, stopAfterLayer: nil, tape: tape,
                                 context: context)   // [B, 1, vocab]
        let layout = BatchLayout(starts: [Int](repeating: 0, count: batch), counts: [Int](repeating: count, count: batch),
                                 startLayers: [Int](repeating: 0, count: batch))
        let n = layout.rows
        let g = GradientState(config: c, rows: n)
        let hooks = gradientHooks.isEmpty ? nil : gradientHooks
        func hook(_ point: HookPoint, _ buffer: UnsafeMutablePointer<Float>) throws {
            guard let hooks, hooks.contains(point) else { return }
            try hooks.run(ActivationView(point: point, shape: point.shape(config: c, keys: layout.keys),
                                         startPositions: layout.starts, counts: layout.counts, base: buffer))
        }

        // The metric at each sequence's last position: dlogits[B, vocab].
        var dlogits = [Float](repeating: 0, count: batch * vocab)
        var values = [Double](repeating: 0, count: batch)
        logits.data.withUnsafeBufferPointer { l in
            dlogits.withUnsafeMutableBufferPointer { dl in
                for b in 0..<batch {
                    values[b] = metrics[b].evaluate(l.baseAddress! + b * vocab, vocab: vocab, gradient: dl.baseAddress! + b * vocab)
                }
            }
        }
        let pass = GradientPass(logits: Tensor(shape: [batch, vocab], data: logits.data), metrics: values)
        guard let hooks else { return pass }
        let lowest = hooks.points.contains(.embed) ? 0 : hooks.points.compactMap(\.layer).min() ?? c.layerCount

        // Unembedding: dxb[last row of b] = dlogits[b] · W_U; every other row feeds no logit.
        g.dxb.update(repeating: 0, count: n * d)
        var dlast = [Float](repeating: 0, count: batch * d)   // [B, d_model]
        dlast.withUnsafeMutableBufferPointer { o in
            dlogits.withUnsafeBufferPointer { dl in matmulTransposed(o.baseAddress!, dl.baseAddress!, weights.output, n: batch) }
            for b in 0..<batch { (g.dxb + (layout.offsets[b + 1] - 1) * d).update(from: o.baseAddress! + b * d, count: d) }
        }
        try hook(.lnFinalNormalized, g.dxb)

        // Final norm: dx = ∂ rmsnorm(x_final) ᵀ · dxb.
        guard let final = tape.final else { preconditionFailure("the forward pass kept no final residual") }
        rmsnormBackward(g.dx, g.dxb, final, weights.finalNorm, n: n, eps: c.normEpsilon, accumulate: false)

        // The blocks, last to first, down to the lowest hooked one.
        for l in stride(from: c.layerCount - 1, through: lowest, by: -1) {
            try context.checkCancelled()
            switch c.block {
            case .llama: try llamaBlockBackward(g, tape, layer: l, layout: layout, hook: hook)
            case .gemma3: try gemma3BlockBackward(g, tape, layer: l, layout: layout, hook: hook)
            }
        }
        if lowest == 0 { try hook(.embed, g.dx) }
        return pass
    }

    /// One llama block in reverse: on entry `g.dx` is ∂metric/∂resid_post(l); on exit ∂metric/∂resid_pre(l).
    private func llamaBlockBackward(_ g: GradientState, _ tape: BackwardTape, layer l: Int, layout: BatchLayout,
                                    hook: (HookPoint, UnsafeMutablePointer<Float>) throws -> Void) throws {
        let c = config, w = weights.blocks[l], n = layout.rows
        try hook(.residPost(l), g.dx)

        // MLP in reverse: W_down → SwiGLU → W_gate, W_up → ln2, added to the residual's gradient.
        try hook(.mlpOut(l), g.dx)                             // x += mlp_out: the same gradient
        matmulTransposed(g.dhb, g.dx, w.wDown, n: n)            // [N, d_ff]
        try hook(.mlpPost(l), g.dhb)
        swigluBackward(g.dgate, g.dup, g.dhb, tape[.gate, l], tape[.up, l], count: n * c.ffnDim)
        try hook(.mlpPre(l), g.dgate)
        try mlpInputBackward(g, tape, layer: l, rows: n, hook: hook)

        // Attention in reverse: W_O → pattern · V → softmax(q·kᵀ/√d_head) → RoPE → W_q, W_k, W_v → ln1.
        try hook(.attnOut(l), g.dx)                            // x += attn_out: the same gradient
        matmulTransposed(g.dz, g.dx, w.wo, n: n)                // [N, H·d_head]
        try hook(.z(l), g.dz)
        attentionBackward(g, tape, layer: l, layout: layout)
        try hook(.v(l), g.dv)
        try hook(.q(l), g.dq)
        try hook(.k(l), g.dk)
        try attentionInputBackward(g, tape, layer: l, rows: n, hook: hook)
    }

    /// The gated MLP's input side in reverse, shared by every block: from g.dgate and g.dup through
    /// W_gate and W_up to ln2's output, then through ln2, added to ∂metric/∂resid_mid in g.dx.
    private func mlpInputBackward(_ g: GradientState, _ tape: BackwardTape, layer l: Int, rows n: Int,
                                  hook: (HookPoint, UnsafeMutablePointer<Float>) throws -> Void) throws {
        let c = config, w = weights.blocks[l]
        matmulTransposed(g.dxb, g.dgate, w.wGate, n: n)         // [N, d_model]
        matmulTransposed(g.dxb, g.dup, w.wUp, n: n, accumulate: true)
        try hook(.ln2Normalized(l), g.dxb)
        rmsnormBackward(g.dx, g.dxb, tape[.residMid, l], w.ffnNorm, n: n, eps: c.normEpsilon, accumulate: true)
        try hook(.residMid(l), g.dx)
    }

    /// The attention's input side in reverse, shared by every block: from g.dq, g.dk and g.dv through
    /// W_q, W_k and W_v to ln1's output, then through ln1, added to ∂metric/∂resid_pre in g.dx.
    private func attentionInputBackward(_ g: GradientState, _ tape: BackwardTape, layer l: Int, rows n: Int,
                                        hook: (HookPoint, UnsafeMutablePointer<Float>) throws -> Void) throws {
        let c = config, w = weights.blocks[l]
        matmulTransposed(g.dxb, g.dq, w.wq, n: n)               // [N, d_model]
        matmulTransposed(g.dxb, g.dk, w.wk, n: n, accumulate: true)
        matmulTransposed(g.dxb, g.dv, w.wv, n: n, accumulate: true)
        try hook(.ln1Normalized(l), g.dxb)
        rmsnormBackward(g.dx, g.dxb, tape[.residPre, l], w.attnNorm, n: n, eps: c.normEpsilon, accumulate: true)
        try hook(.residPre(l), g.dx)
    }

    /// The attention step every block shares, in reverse: from g.dz to g.dq and g.dk (before RoPE,
    /// i.e. at hook_q and hook_k) and g.dv, with the layer's window and RoPE frequencies.
    private func attentionBackward(_ g: GradientState, _ tape: BackwardTape, layer l: Int, layout: BatchLayout) {
        let c = config
        attentionScoresBackward(dq: g.dq, dk: g.dk, dv: g.dv, dz: g.dz, q: tape[.rotatedQ, l], k: tape[.rotatedK, l],
                                v: tape[.v, l], layer: l, layout: layout)
        let positions = layout.positions
        let frequencies = c.isLocal(layer: l) ? localRopeFrequencies : ropeFrequencies
        ropeBackward(g.dq, positions: positions, heads: c.headCount, headDim: c.headDim, frequencies: frequencies, style: c.ropeStyle)
        ropeBackward(g.dk, positions: positions, heads: c.kvHeadCount, headDim: c.headDim, frequencies: frequencies, style: c.ropeStyle)
    }

    /// The Gemma 3 block in reverse: on entry `g.dx` is ∂metric/∂resid_post(l); on exit ∂metric/∂resid_pre(l).
    /// Each post-norm's input gradient goes through `g.dxb` before its matrix; the per-head q and k
    /// norms are reversed in place (row r of the norm's gradient reads only row r).
    private func gemma3BlockBackward(_ g: GradientState, _ tape: BackwardTape, layer l: Int, layout: BatchLayout,
                                     hook: (HookPoint, UnsafeMutablePointer<Float>) throws -> Void) throws {
        let c = config, w = weights.blocks[l], n = layout.rows
        guard let qNorm = w.qNorm, let kNorm = w.kNorm, let attnPostNorm = w.attnPostNorm, let ffnPostNorm = w.ffnPostNorm else {
            throw TransformerError.missingTensor("blk.\(l).attn_q_norm.weight")
        }
        try hook(.residPost(l), g.dx)

        // MLP in reverse: ln2_post → W_down → GeGLU → W_gate, W_up → ln2, added to the residual's gradient.
        try hook(.mlpOut(l), g.dx)                             // x += mlp_out: the same gradient
        try hook(.ln2PostNormalized(l), g.dx)                  // mlp_out is ln2_post's output
        rmsnormBackward(g.dxb, g.dx, tape[.mlpProjected, l], ffnPostNorm, n: n, eps: c.normEpsilon, accumulate: false)
        matmulTransposed(g.dhb, g.dxb, w.wDown, n: n)           // [N, d_ff]
        try hook(.mlpPost(l), g.dhb)
        gegluBackward(g.dgate, g.dup, g.dhb, tape[.gate, l], tape[.up, l], count: n * c.ffnDim)
        try hook(.mlpPre(l), g.dgate)
        try mlpInputBackward(g, tape, layer: l, rows: n, hook: hook)

        // Attention in reverse: ln1_post → W_O → attention → q, k norms → W_q, W_k, W_v → ln1.
        try hook(.attnOut(l), g.dx)                            // x += attn_out: the same gradient
        try hook(.ln1PostNormalized(l), g.dx)
        rmsnormBackward(g.dxb, g.dx, tape[.attnProjected, l], attnPostNorm, n: n, eps: c.normEpsilon, accumulate: false)
        matmulTransposed(g.dz, g.dxb, w.wo, n: n)               // [N, H·d_head]
        try hook(.z(l), g.dz)
        attentionBackward(g, tape, layer: l, layout: layout)
        try hook(.v(l), g.dv)
        try hook(.q(l), g.dq)
        try hook(.k(l), g.dk)
        rmsnormBackward(g.dq, g.dq, tape[.rawQ, l], qNorm, n: n * c.headCount, eps: c.normEpsilon, accumulate: false)
        rmsnormBackward(g.dk, g.dk, tape[.rawK, l], kNorm, n: n * c.kvHeadCount, eps: c.normEpsilon, accumulate: false)
        try attentionInputBackward(g, tape, layer: l, rows: n, hook: hook)
    }

    /// Causal attention in reverse for every sequence and head, from dz[N, H·d_head] to dq (rotated),
    /// dk (rotated) and dv. Each row's pattern is recomputed from q and k over the keys the row sees
    /// (a window on a sliding-window layer); with P = softmax(S), S = q·kᵀ · scale, z = P·V:
    ///
    ///     dP = dz·Vᵀ    dS = P ⊙ (dP − rowsum(P ⊙ dP))    dq = dS·K·scale    dK += dSᵀ·q·scale    dV += Pᵀ·dz
    ///
    /// A task is one sequence's key/value head and the query heads that share it (grouped-query
    /// attention), so the tasks write disjoint parts of dk and dv.
    private func attentionScoresBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                         dz: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                         layer l: Int, layout: BatchLayout) {
        let c = config, hd = c.headDim, n = layout.rows
        let scale = c.attentionScale
        dk.update(repeating: 0, count: n * c.kvDim)
        dv.update(repeating: 0, count: n * c.kvDim)
        nonisolated(unsafe) let (dq, dk, dv) = (dq, dk, dv)
        WorkerPool.shared.run(layout.batch * c.kvHeadCount) { task in
            let b = task / c.kvHeadCount, kvh = task % c.kvHeadCount
            let rows = layout.counts[b], o = layout.offsets[b]
            let scratch = ScratchPool.shared.take(floats: 2 * rows)
            defer { ScratchPool.shared.give(back: scratch) }
            let p = scratch.pointer, ds = scratch.pointer + rows          // [rows] one query row's P and dP, then dS
            let kh = k + o * c.kvDim + kvh * hd, vh = v + o * c.kvDim + kvh * hd
            let dkh = dk + o * c.kvDim + kvh * hd, dvh = dv + o * c.kvDim + kvh * hd
            for h in (kvh * c.groupSize)..<((kvh + 1) * c.groupSize) {
                for i in 0..<rows {
                    // Causal: keys first...i, where first > 0 only on a sliding-window layer.
                    let first = c.firstVisibleKey(layer: l, query: layout.starts[b] + i) - layout.starts[b]
                    let visible = i + 1 - first
                    let qi = q + (o + i) * c.qDim + h * hd, dzi = dz + (o + i) * c.qDim + h * hd
                    let dqi = dq + (o + i) * c.qDim + h * hd
                    let k0 = kh + first * c.kvDim, v0 = vh + first * c.kvDim
                    attentionScoresRow(p, qi, keys: k0, stride: c.kvDim, count: visible, headDim: hd, scale: scale)
                    softmax(p, count: visible)
                    attentionScoresRow(ds, dzi, keys: v0, stride: c.kvDim, count: visible, headDim: hd, scale: 1)   // dP
                    var pdp: Float = 0
                    for j in 0..<visible { pdp += p[j] * ds[j] }
                    for j in 0..<visible { ds[j] = p[j] * (ds[j] - pdp) }
                    attentionValuesRow(dqi, ds, values: k0, stride: c.kvDim, count: visible, headDim: hd)
                    for e in 0..<hd { dqi[e] *= scale }
                    for j in 0..<visible {
                        axpy(dkh + (first + j) * c.kvDim, scale * ds[j], qi, count: hd)
                        axpy(dvh + (first + j) * c.kvDim, p[j], dzi, count: hd)
                    }
                }
            }
        }
    }
}

// MARK: - Backward ops
//
// Each the reverse of the forward op of the same name in Ops.swift, gradient output first.

/// dx[n, d] = (or `+=`) the gradient through out = x / rms(x) ⊙ weight, given dOut[n, d]:
/// dx = s·(w ⊙ dOut) − s³/d · (Σ w ⊙ dOut ⊙ x) · x, with s = 1/√(mean(x²) + ε).
func rmsnormBackward(_ dx: UnsafeMutablePointer<Float>, _ dOut: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ weight: [Float],
                     n: Int, eps: Float, accumulate: Bool) {
    let d = weight.count
    weight.withUnsafeBufferPointer { w in
        for r in 0..<n {
            let xr = x + r * d, gr = dOut + r * d, dr = dx + r * d
            var ss: Float = 0, dot: Float = 0
            for i in 0..<d {
                ss += xr[i] * xr[i]
                dot += w[i] * gr[i] * xr[i]
            }
            let s = 1 / (ss / Float(d) + eps).squareRoot()
            let coefficient = s * s * s * dot / Float(d)
            if accumulate {
                for i in 0..<d { dr[i] += s * w[i] * gr[i] - coefficient * xr[i] }
            } else {
                for i in 0..<d { dr[i] = s * w[i] * gr[i] - coefficient * xr[i] }
            }
        }
    }
}

/// dgate, dup[count] from dOut[count] through out = silu(gate) ⊙ up:
/// dup = dOut ⊙ silu(gate), dgate = dOut ⊙ up ⊙ σ(gate)(1 + gate(1 − σ(gate))).
func swigluBackward(_ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>, _ dOut: UnsafePointer<Float>,
                    _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    var i = 0
    let one = SIMD8<Float>(repeating: 1)
    while i &+ 8 <= count {
        let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD8<Float>.self)
        let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD8<Float>.self)
        let o = UnsafeRawPointer(dOut + i).loadUnaligned(as: SIMD8<Float>.self)
        let sigma = one / (one + exp8(-g))
        UnsafeMutableRawPointer(dup + i).storeBytes(of: o * g * sigma, as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(dgate + i).storeBytes(of: o * u * sigma * (one + g * (one - sigma)), as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < count {
        let g = gate[i], sigma = 1 / (1 + Foundation.exp(-g))
        dup[i] = dOut[i] * g * sigma
        dgate[i] = dOut[i] * up[i] * sigma * (1 + g * (1 - sigma))
        i &+= 1
    }
}

/// dgate, dup[count] from dOut[count] through out = gelu_tanh(gate) ⊙ up, with
/// gelu_tanh(g) = ½g(1 + tanh u), u = √(2/π)(g + 0.044715 g³):
/// dup = dOut ⊙ gelu_tanh(gate), dgate = dOut ⊙ up ⊙ (½(1 + tanh u) + ½g(1 − tanh² u)·√(2/π)(1 + 3·0.044715 g²)).
func gegluBackward(_ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>, _ dOut: UnsafePointer<Float>,
                   _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    let k = (2 / Float.pi).squareRoot(), cube: Float = 0.044715
    for i in 0..<count {
        let g = gate[i], t = Foundation.tanh(k * (g + cube * g * g * g))
        let derivative = 0.5 * (1 + t) + 0.5 * g * (1 - t * t) * k * (1 + 3 * cube * g * g)
        dup[i] = dOut[i] * 0.5 * g * (1 + t)
        dgate[i] = dOut[i] * up[i] * derivative
    }
}

/// dx[n, heads·d_head] in place: the gradient through `rope`, i.e. each pair rotated back by its angle.
func ropeBackward(_ dx: UnsafeMutablePointer<Float>, positions: [Int], heads: Int, headDim: Int,
                  frequencies: [Float], style: RopeStyle) {
    let pairs = frequencies.count
    let table = RopeAngles.table(frequencies, covering: (positions.max() ?? 0) + 1)
    for (r, pos) in positions.enumerated() {
        for p in 0..<pairs {
            let c = table.cos[pos * pairs + p], s = table.sin[pos * pairs + p]
            for h in 0..<heads {
                let head = dx + (r * heads + h) * headDim
                let (i, j) = style == .adjacent ? (2 * p, 2 * p + 1) : (p, p + headDim / 2)
                let a = head[i], b = head[j]
                head[i] = a * c + b * s
                head[j] = -a * s + b * c
            }
        }
    }
}
