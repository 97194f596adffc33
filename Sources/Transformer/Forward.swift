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

    /// Floats `att` holds.
    let attentionFloats: Int

    /// Buffers for `n` rows, uninitialised: every step writes its buffer before the next reads it.
    init(config c: ModelConfig, rows n: Int, attentionFloats: Int) {
        self.n = n
        self.attentionFloats = attentionFloats
        func make(_ count: Int) -> UnsafeMutablePointer<Float> { UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1)) }
        x = make(n * c.modelDim); xb = make(n * c.modelDim)
        q = make(n * c.qDim); k = make(n * c.kvDim); v = make(n * c.kvDim)
        att = make(attentionFloats); z = make(n * c.qDim); out = make(n * c.modelDim)
        gate = make(n * c.ffnDim); up = make(n * c.ffnDim); hb = make(n * c.ffnDim)
        buffers = [x, xb, q, k, v, att, z, out, gate, up, hb]
        byteCount = 4 * (n * (4 * c.modelDim + 2 * c.qDim + 2 * c.kvDim + 3 * c.ffnDim) + attentionFloats)
    }

    /// Bytes of all the buffers.
    let byteCount: Int

    deinit { for b in buffers { b.deallocate() } }
}

/// The largest run state of a model's last forward passes, kept for the next one: a sweep's pass
/// over a thousand rows needs tens of MB of buffers, whose fresh pages would cost a fault and a
/// clear on every pass.
final class RunStateStore: @unchecked Sendable {
    private var kept: RunState?
    private var lock = pthread_mutex_t()

    init() { pthread_mutex_init(&lock, nil) }

    /// The kept state if it is large enough (taking it), otherwise a new one.
    func take(config: ModelConfig, rows: Int, attentionFloats: Int) -> RunState {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if let s = kept, s.n >= rows, s.attentionFloats >= attentionFloats {
            kept = nil
            return s
        }
        return RunState(config: config, rows: rows, attentionFloats: attentionFloats)
    }

    /// Bytes of the kept buffers (the activations of the largest recent pass).
    var keptBytes: Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard let s = kept else { return 0 }
        return s.byteCount
    }

    /// Keeps `s` for the next pass unless a larger state is kept already.
    func give(back s: RunState) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if let k = kept, k.n >= s.n, k.attentionFloats >= s.attentionFloats { return }
        kept = s
    }
}

/// Which positions get logits.
public enum LogitsSelection: Sendable {
    case all     // every position: [B, T, vocab]
    case last    // the last position of each sequence: [B, 1, vocab]
    case none    // no unembedding: [B, 0, vocab]
}

// MARK: - Batch layout

/// Where each sequence of a batch sits in the run-state rows. Sequence b owns rows
/// `offsets[b]..<offsets[b + 1]` (its new positions `starts[b]...`) and joins the pass at block
/// `startLayers[b]`; start layers never decrease along the batch, so the sequences running any
/// block are a prefix of the batch and their rows a prefix of every buffer.
struct BatchLayout {
    let starts: [Int]        // [B]     absolute position of each sequence's first new row
    let counts: [Int]        // [B]     new rows of each sequence
    let offsets: [Int]       // [B + 1] first buffer row of each sequence; offsets[B] = N
    let startLayers: [Int]   // [B]     first block each sequence runs
    let positions: [Int]     // [N]     absolute position of each row
    let keys: Int            //         attention width (the longest sequence)

    init(starts: [Int], counts: [Int], startLayers: [Int]) {
        self.starts = starts
        self.counts = counts
        self.startLayers = startLayers
        offsets = rowOffsets(counts)
        positions = starts.indices.flatMap { b in (0..<counts[b]).map { starts[b] + $0 } }
        keys = zip(starts, counts).map { $0 + $1 }.max() ?? 0
    }

    var batch: Int { starts.count }
    var rows: Int { offsets[batch] }

    /// How many sequences (a prefix of the batch) run block `layer`.
    func joined(at layer: Int) -> Int { startLayers.firstIndex { $0 > layer } ?? batch }

    /// Moves each sequence's last row to row b of `s.x` (and of `s.q` for the `joined` sequences,
    /// whose queries are made) and returns the layout of one row per sequence.
    func keepingLastRows(of s: RunState, joined: Int, config c: ModelConfig) -> BatchLayout {
        // Row b moves down from row offsets[b + 1] − 1 ≥ b, above every later sequence's last row.
        for b in 0..<batch {
            let last = offsets[b + 1] - 1
            guard last != b else { continue }
            (s.x + b * c.modelDim).update(from: s.x + last * c.modelDim, count: c.modelDim)
            if b < joined { (s.q + b * c.qDim).update(from: s.q + last * c.qDim, count: c.qDim) }
        }
        return BatchLayout(starts: zip(starts, counts).map { $0 + $1 - 1 }, counts: [Int](repeating: 1, count: batch),
                           startLayers: startLayers)
    }
}

/// One block's work list: the rows of the sequences that have joined by this block, in the run
/// state's buffers, and the hooks that see them. A block function reads it top to bottom.
struct BlockRows {
    let layer: Int
    let state: RunState
    var layout: BatchLayout          // cut to one row per sequence once only last rows matter
    let batch: Int                   // sequences running this block (a prefix of the batch)
    var n: Int                       // their rows
    let finishLastRowsOnly: Bool     // the last block of a pass that needs only last-position logits
    let queryChunk: Int              // query rows whose attention weights are made at once
    let hooks: HookSet?
    let tape: BackwardTape?          // what the backward pass needs of this block, when one follows

    init(layer: Int, state: RunState, layout: BatchLayout, batch: Int, finishLastRowsOnly: Bool, queryChunk: Int,
         hooks: HookSet?, tape: BackwardTape?) {
        self.layer = layer; self.state = state; self.layout = layout; self.batch = batch
        self.n = layout.offsets[batch]
        self.finishLastRowsOnly = finishLastRowsOnly; self.queryChunk = queryChunk; self.hooks = hooks; self.tape = tape
    }
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
        try forward(tokens, caches: &caches, hooks: hooks, logits: selection, stopAfterLayer: stopAfterLayer,
                    tape: nil, context: context)
    }

    /// The forward pass over `tokens`; with a `tape`, every block also keeps what the backward pass
    /// reads (see `BackwardTape`), and every row runs through the last block.
    func forward(_ tokens: [[Int]], caches: inout [KVCache], hooks: HookSet?, logits selection: LogitsSelection,
                 stopAfterLayer: Int?, tape: BackwardTape?, context: TaskContext) throws -> Tensor {
        let c = config
        let batch = tokens.count
        guard batch > 0, caches.count == batch else {
            throw TransformerError.cacheCount(sequences: batch, startLayers: nil, caches: caches.count)
        }
        let count = tokens[0].count
        guard count > 0, tokens.allSatisfy({ $0.count == count }) else {
            throw TransformerError.unequalLengths(tokens.map(\.count))
        }
        for seq in tokens { for t in seq where t < 0 || t >= c.vocabularySize {
            throw TransformerError.tokenOutOfRange(token: t, vocabularySize: c.vocabularySize)
        } }
        if let stop = stopAfterLayer, stop < 0 || stop >= c.layerCount {
            throw TransformerError.layerOutOfRange(layer: stop, layerCount: c.layerCount)
        }
        if let backend {
            guard tape == nil else { throw BackendError.noGradients(placement: backend.placement) }
            return try backendForward(backend, tokens: tokens, residuals: nil, startLayers: [Int](repeating: 0, count: batch),
                                      caches: &caches, hooks: hooks, logits: stopAfterLayer == nil ? selection : .none,
                                      commit: stopAfterLayer == nil, context: context)
        }
        let layout = BatchLayout(starts: caches.map(\.length), counts: [Int](repeating: count, count: batch),
                                 startLayers: [Int](repeating: 0, count: batch))
        guard layout.keys <= c.contextLength else {
            throw TransformerError.contextOverflow(needed: layout.keys, contextLength: c.contextLength)
        }
        let hooks = hooks.flatMap { $0.isEmpty ? nil : $0 }
        let s = runState(for: layout, hooks: hooks)
        defer { runStates.give(back: s) }

        // Token embeddings: x[N, d] = W_E[tokens] · embeddingScale (√d_model on Gemma).
        for (r, token) in tokens.joined().enumerated() {
            weights.tokenEmbedding.dequantizeRows(token..<token + 1, into: s.x + r * c.modelDim)
        }
        if c.embeddingScale != 1 { scale(s.x, by: c.embeddingScale, count: layout.rows * c.modelDim) }
        try callHooks(hooks, .embed, s.x, layout, sequences: batch)

        // The blocks, then the final norm and unembedding.
        let lastLayer = stopAfterLayer ?? c.layerCount - 1
        let left = try runBlocks(s, layout, through: lastLayer,
                                 lastRowsOnly: tape == nil && stopAfterLayer == nil && lastRowsSuffice(selection, hooks),
                                 caches: &caches, hooks: hooks, tape: tape, context: context)
        if stopAfterLayer != nil {
            // Stopped early: drop the keys and values this call added, so each cache stays whole.
            for b in 0..<batch { caches[b].removeUncommitted(layers: 0...lastLayer) }
            return Tensor(shape: [batch, 0, c.vocabularySize], data: [])
        }
        for b in 0..<batch { caches[b].commit(rows: count) }
        tape?.keepFinal(s.x)
        return try finalNormAndUnembed(s, left, hooks: hooks, selection: selection, context: context)
    }

    /// Resumes forward passes at a given block from their residual streams, so nothing below that
    /// block is recomputed: a variant patched at layer L starts at block L (the resume door of
    /// docs/architecture.md; sweeps prepare these passes with Interpretability's ResumedBatch).
    ///
    /// `residuals[b]` is `resid_pre(startLayers[b])` of sequence b's new rows, `[T_b, d_model]`
    /// (T_b ≥ 1; sequences may differ in length). They continue `caches[b]`: its layers from
    /// `startLayers[b]` on hold `caches[b].length` positions, and its layers below already hold the
    /// new rows as well (a full run's cache cut with `KVCache.truncate(to:fromLayer:)`); afterwards
    /// every layer holds `length + T_b`. `startLayers` must not decrease along the batch: each
    /// sequence joins at its block, so every block is one set of matrix products over all the
    /// sequences that have joined. A start of `layerCount` runs only the final norm and unembedding.
    ///
    /// Hooks at block l see the sequences that have joined by l (a prefix of the batch); a view's
    /// `counts[b]` says how many rows sequence b has. `.all` logits need equal row counts and are
    /// `[B, T, vocab]`; `.last` gives `[B, 1, vocab]` from one product over the last rows.
    public func forward(residuals: [[Float]], startLayers: [Int], caches: inout [KVCache], hooks: HookSet? = nil,
                        logits selection: LogitsSelection = .last, context: TaskContext = .none) throws -> Tensor {
        let c = config, d = c.modelDim
        let batch = residuals.count
        guard batch > 0, caches.count == batch, startLayers.count == batch else {
            throw TransformerError.cacheCount(sequences: batch, startLayers: startLayers.count, caches: caches.count)
        }
        for (b, stream) in residuals.enumerated() where stream.isEmpty || stream.count % d != 0 {
            throw TransformerError.partialRows(sequence: b, count: stream.count, width: d)
        }
        for (b, l) in startLayers.enumerated() {
            guard l >= 0 && l <= c.layerCount else { throw TransformerError.layerOutOfRange(layer: l, layerCount: c.layerCount) }
            guard b == 0 || startLayers[b - 1] <= l else {
                throw TransformerError.unsortedStartLayers(startLayers)
            }
        }
        let counts = residuals.map { $0.count / d }
        for b in 0..<batch where !caches[b].isReady(toResumeAt: startLayers[b], rows: counts[b]) {
            throw TransformerError.cacheNotCut(sequence: b, length: caches[b].length, startLayer: startLayers[b], rows: counts[b])
        }
        if case .all = selection, !counts.allSatisfy({ $0 == counts[0] }) {
            throw TransformerError.raggedLogits(rows: counts)
        }
        if let backend {
            return try backendForward(backend, tokens: nil, residuals: residuals, startLayers: startLayers,
                                      caches: &caches, hooks: hooks, logits: selection, commit: true, context: context)
        }
        let layout = BatchLayout(starts: caches.map(\.length), counts: counts, startLayers: startLayers)
        guard layout.keys <= c.contextLength else {
            throw TransformerError.contextOverflow(needed: layout.keys, contextLength: c.contextLength)
        }
        let hooks = hooks.flatMap { $0.isEmpty ? nil : $0 }
        let s = runState(for: layout, hooks: hooks)
        defer { runStates.give(back: s) }

        // The residual streams: x[N, d] = resid_pre(startLayers[b]) of each sequence's rows.
        for b in 0..<batch {
            residuals[b].withUnsafeBufferPointer { r in
                (s.x + layout.offsets[b] * d).update(from: r.baseAddress!, count: r.count)
            }
        }

        // The blocks from the first start layer on, then the final norm and unembedding.
        let left = try runBlocks(s, layout, through: c.layerCount - 1, lastRowsOnly: lastRowsSuffice(selection, hooks),
                                 caches: &caches, hooks: hooks, context: context)
        for b in 0..<batch { caches[b].commit(rows: counts[b]) }
        return try finalNormAndUnembed(s, left, hooks: hooks, selection: selection, context: context)
    }

    /// Run state for `layout`. Attention weights are materialised whole ([N, H, keys]) only where a
    /// hook must see them; otherwise a few query rows at a time, so long prompts do not need T² memory.
    private func runState(for layout: BatchLayout, hooks: HookSet?) -> RunState {
        let c = config
        let attentionHooked = hooks?.points.contains { $0.isAttentionWidth } ?? false
        let queryRows = attentionHooked ? layout.rows : queryChunk(layout)
        return runStates.take(config: c, rows: layout.rows, attentionFloats: queryRows * c.headCount * layout.keys)
    }

    /// Query rows whose attention weights are made at once when no hook needs them whole.
    private func queryChunk(_ layout: BatchLayout) -> Int {
        let longest = layout.counts.max() ?? 1
        return max(1, min(longest, Self.attentionChunkFloats / (config.headCount * max(layout.keys, 1))))
    }

    /// Calls the hooks at `point` with a view of the first `sequences` sequences of `buffer` (no
    /// work when nothing is registered there).
    func callHooks(_ hooks: HookSet?, _ point: HookPoint, _ buffer: UnsafeMutablePointer<Float>,
                           _ layout: BatchLayout, sequences: Int) throws {
        guard let hooks, hooks.contains(point) else { return }
        try hooks.run(ActivationView(point: point, shape: point.shape(config: config, keys: layout.keys),
                                     startPositions: Array(layout.starts[0..<sequences]),
                                     counts: Array(layout.counts[0..<sequences]), base: buffer))
    }

    /// True when only each sequence's last row matters after the last block's keys and values:
    /// last-position logits, and no hook in the last block or on the final norm to see the others.
    private func lastRowsSuffice(_ selection: LogitsSelection, _ hooks: HookSet?) -> Bool {
        guard case .last = selection else { return false }
        return !(hooks?.points.contains { $0.layer == config.layerCount - 1 || $0 == .lnFinalNormalized } ?? false)
    }

    /// The transformer blocks from the first start layer through `lastLayer`; block l runs over the
    /// rows of the sequences that have joined by l and appends their keys and values to `caches`.
    /// With `lastRowsOnly`, the last block finishes only each sequence's last row. Returns the
    /// layout of the rows left in `s.x`.
    private func runBlocks(_ s: RunState, _ layout: BatchLayout, through lastLayer: Int, lastRowsOnly: Bool,
                           caches: inout [KVCache], hooks: HookSet?, tape: BackwardTape? = nil,
                           context: TaskContext) throws -> BatchLayout {
        let c = config
        let firstLayer = layout.startLayers.first ?? 0
        guard firstLayer <= lastLayer else { return layout }
        let plainChunk = queryChunk(layout)
        var layout = layout
        // A hook or a cancellation may throw mid-pass: then the keys and values this call already
        // appended are dropped, so the caches stay consistent with their length.
        do {
            for l in firstLayer...lastLayer {
                try context.checkCancelled()
                let batch = layout.joined(at: l)                        // sequences running this block
                var rows = BlockRows(layer: l, state: s, layout: layout, batch: batch,
                                     finishLastRowsOnly: lastRowsOnly && l == lastLayer, queryChunk: plainChunk, hooks: hooks,
                                     tape: tape)
                switch c.block {
                case .llama: try llamaBlock(&rows, caches: &caches, context: context)
                case .gemma3: try gemma3Block(&rows, caches: &caches, context: context)
                }
                layout = rows.layout
                context.report(Double(l - firstLayer + 1) / Double(lastLayer - firstLayer + 1),
                               "layer \(l + 1)/\(lastLayer + 1)")
            }
        } catch {
            // (A sequence joining after the last block, start = layerCount, appended nothing.)
            for b in caches.indices { caches[b].removeUncommitted(fromLayer: layout.startLayers[b]) }
            throw error
        }
        return layout
    }

    /// The llama block (llama, mistral, qwen2) over `rows`: pre-norm attention, then a pre-norm SwiGLU MLP.
    func llamaBlock(_ rows: inout BlockRows, caches: inout [KVCache], context: TaskContext) throws {
        let c = config, l = rows.layer, s = rows.state, w = weights.blocks[l]
        try hook(.residPre(l), s.x, rows)
        rows.tape?.keep(.residPre, layer: l, s.x)

        // Attention: ln1 → q, k, v → RoPE → causal softmax(q·kᵀ/√d_head) · v → W_O.
        rmsnorm(s.xb, s.x, w.attnNorm, n: rows.n, eps: c.normEpsilon)
        try hook(.ln1Normalized(l), s.xb, rows)
        matmul([s.q, s.k, s.v], s.xb, [w.wq, w.wk, w.wv], n: rows.n)
        if let b = w.bq { addBias(s.q, b, n: rows.n) }
        if let b = w.bk { addBias(s.k, b, n: rows.n) }
        if let b = w.bv { addBias(s.v, b, n: rows.n) }
        try hook(.q(l), s.q, rows)
        try hook(.k(l), s.k, rows)
        try hook(.v(l), s.v, rows)
        try selfAttention(&rows, caches: &caches)
        matmul(s.out, s.z, w.wo, n: rows.n)
        try hook(.attnOut(l), s.out, rows)
        addInPlace(s.x, s.out, count: rows.n * c.modelDim)
        try hook(.residMid(l), s.x, rows)
        rows.tape?.keep(.residMid, layer: l, s.x)

        // MLP: ln2 → SwiGLU(W_gate·x, W_up·x) → W_down. (An interrupt is also honoured here,
        // so a sweep's wide blocks make it wait for half a block, not a whole one.)
        try context.checkCancelled()
        rmsnorm(s.xb, s.x, w.ffnNorm, n: rows.n, eps: c.normEpsilon)
        try hook(.ln2Normalized(l), s.xb, rows)
        try gatedProjection(rows, w, .swiglu)
        try hook(.mlpPost(l), s.hb, rows)
        matmul(s.out, s.hb, w.wDown, n: rows.n)
        try hook(.mlpOut(l), s.out, rows)
        addInPlace(s.x, s.out, count: rows.n * c.modelDim)
        try hook(.residPost(l), s.x, rows)
    }

    /// The MLP's input side, s.xb (ln2's output) → `activation`(W_gate·x, W_up·x) in s.hb, calling
    /// `mlp_pre` and keeping gate and up for the backward tape. With one row and nothing reading
    /// gate and up before the activation, each task of the product gates the rows it made.
    func gatedProjection(_ rows: BlockRows, _ w: BlockWeights, _ activation: GatedActivation) throws {
        let s = rows.state, l = rows.layer
        if rows.n == 1 && rows.tape == nil && rows.hooks?.contains(.mlpPre(l)) != true {
            matmulGated([s.gate, s.up], s.xb, [w.wGate, w.wUp]) { r in
                activation.apply(s.hb + r.lowerBound, s.gate + r.lowerBound, s.up + r.lowerBound, count: r.count)
            }
            return
        }
        matmul([s.gate, s.up], s.xb, [w.wGate, w.wUp], n: rows.n)
        try hook(.mlpPre(l), s.gate, rows)
        rows.tape?.keep(.gate, layer: l, s.gate)
        rows.tape?.keep(.up, layer: l, s.up)
        activation.apply(s.hb, s.gate, s.up, rows: rows.n, width: config.ffnDim)
    }

    /// Calls the hooks at `point` with a view of the sequences running this block.
    @inline(__always)
    func hook(_ point: HookPoint, _ buffer: UnsafeMutablePointer<Float>, _ rows: BlockRows) throws {
        try callHooks(rows.hooks, point, buffer, rows.layout, sequences: rows.batch)
    }

    /// The attention step every block shares, from hooked q, k, v to hooked z: RoPE (the local
    /// layers' frequencies on a sliding-window layer), the keys and values into the caches, then
    /// z = softmax(q·kᵀ · scale, causal and windowed) · v. On the last block of a last-position
    /// pass, the rows are cut to each sequence's last one once their keys and values are cached.
    func selfAttention(_ rows: inout BlockRows, caches: inout [KVCache]) throws {
        let c = config, l = rows.layer, s = rows.state
        let positions = Array(rows.layout.positions[0..<rows.n])       // [n] absolute position of each row
        let frequencies = c.isLocal(layer: l) ? localRopeFrequencies : ropeFrequencies
        rope(s.q, positions: positions, heads: c.headCount, headDim: c.headDim, frequencies: frequencies, style: c.ropeStyle)
        rope(s.k, positions: positions, heads: c.kvHeadCount, headDim: c.headDim, frequencies: frequencies, style: c.ropeStyle)
        rows.tape?.keep(.rotatedQ, layer: l, s.q)
        rows.tape?.keep(.rotatedK, layer: l, s.k)
        rows.tape?.keep(.v, layer: l, s.v)
        for b in 0..<rows.batch {
            let row = rows.layout.offsets[b] * c.kvDim
            caches[b].append(layer: l, k: s.k + row, v: s.v + row, rows: rows.layout.counts[b])
        }
        // The last block feeds only the last-position logits: the earlier rows are done once
        // their keys and values are cached, so the rest of the block runs on last rows only.
        if rows.finishLastRowsOnly && rows.n > rows.batch {
            rows.layout = rows.layout.keepingLastRows(of: s, joined: rows.batch, config: c)
            rows.n = rows.batch
        }
        let hookedPattern = rows.hooks?.contains(.attnScores(l)) == true || rows.hooks?.contains(.pattern(l)) == true
        let current = rows
        try attention(s.z, s.q, s.att, caches: caches, layer: l, layout: rows.layout, sequences: rows.batch,
                      queryChunk: rows.queryChunk, hook: hookedPattern ? { try self.hook($0, $1, current) } : nil)
        try hook(.z(l), s.z, rows)
    }

    /// Final norm over every row, then logits[B, T', vocab] = ln_final(x)[selected rows] · W_Uᵀ.
    private func finalNormAndUnembed(_ s: RunState, _ layout: BatchLayout, hooks: HookSet?,
                                     selection: LogitsSelection, context: TaskContext) throws -> Tensor {
        let c = config
        rmsnorm(s.xb, s.x, weights.finalNorm, n: layout.rows, eps: c.normEpsilon)
        try callHooks(hooks, .lnFinalNormalized, s.xb, layout, sequences: layout.batch)
        return try unembed(s.xb, selection: selection, layout: layout, context: context)
    }

    /// Rows per unembedding product (128 × 57 MFLOP ≈ 40 ms): a sweep's hundreds of last rows stay
    /// interruptible between products, and whole products take the panel kernel, which reads the
    /// 28 MB of Q8_0 blocks where the F32 copy is 113 MB.
    static let unembedChunkRows = 128

    /// logits[B, T', vocab] = xb[selected rows] · W_Uᵀ, in products of `unembedChunkRows` rows.
    private func unembed(_ xb: UnsafeMutablePointer<Float>, selection: LogitsSelection, layout: BatchLayout,
                         context: TaskContext) throws -> Tensor {
        let d = config.modelDim, vocab = config.vocabularySize, batch = layout.batch
        let rows: [Int]
        switch selection {
        case .all: rows = Array(0..<layout.rows)
        case .last: rows = (0..<batch).map { layout.offsets[$0 + 1] - 1 }
        case .none: rows = []
        }
        let perSequence = rows.count / batch
        guard !rows.isEmpty else { return Tensor(shape: [batch, 0, vocab], data: []) }
        var picked = [Float](repeating: 0, count: rows.count * d)   // [rows, d_model]
        for (i, r) in rows.enumerated() { for j in 0..<d { picked[i * d + j] = xb[r * d + j] } }
        var logits = [Float](repeating: 0, count: rows.count * vocab)   // [rows, vocab]
        try picked.withUnsafeBufferPointer { p in
            try logits.withUnsafeMutableBufferPointer { o in
                var start = 0
                while start < rows.count {
                    try context.checkCancelled()
                    let n = min(Self.unembedChunkRows, rows.count - start)
                    matmul(o.baseAddress! + start * vocab, p.baseAddress! + start * d, weights.output, n: n)
                    start += n
                }
            }
        }
        return Tensor(shape: [batch, perSequence, vocab], data: logits)
    }

    /// z[rows of the first `sequences` sequences, H·d_head] = causal softmax(q·kᵀ/√d_head) · v over
    /// each sequence's cached keys and values (`att` is scratch for the weights). With `hook`, the
    /// whole [rows, H, keys] scores and pattern are built so the hooks at `attnScores`/`pattern` see
    /// (and may change) them; without, the weights are made `queryChunk` query rows at a time.
    func attention(_ z: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, _ att: UnsafeMutablePointer<Float>,
                           caches: [KVCache], layer l: Int, layout: BatchLayout, sequences: Int, queryChunk: Int,
                           hook: ((HookPoint, UnsafeMutablePointer<Float>) throws -> Void)?) throws {
        let perRow = config.headCount * layout.keys                  // floats of one row's [H, keys]
        let keys = layout.keys
        if let hook {
            for b in 0..<sequences {
                attentionScores(att + layout.offsets[b] * perRow, q, cache: caches[b], rowOffset: layout.offsets[b], layer: l,
                                start: layout.starts[b], rows: 0..<layout.counts[b], keys: keys)
            }
            try hook(.attnScores(l), att)
            for r in 0..<(layout.offsets[sequences] * config.headCount) { softmax(att + r * keys, count: keys) }
            try hook(.pattern(l), att)
            for b in 0..<sequences {
                attentionValues(z, att + layout.offsets[b] * perRow, cache: caches[b], rowOffset: layout.offsets[b], layer: l,
                                start: layout.starts[b], rows: 0..<layout.counts[b], keys: keys)
            }
            return
        }
        if sequences > 1 && layout.counts[0..<sequences].allSatisfy({ $0 <= Self.batchedAttentionMaxRows }) {
            batchedAttention(z, q, caches: caches, layer: l, layout: layout, sequences: sequences)
            return
        }
        for b in 0..<sequences {
            for t0 in stride(from: 0, to: layout.counts[b], by: queryChunk) {
                let rows = t0..<min(layout.counts[b], t0 + queryChunk)
                if rows.count <= kernelConfiguration.attentionRowMaxRows {
                    decodeAttention(z, q, att, cache: caches[b], rowOffset: layout.offsets[b], layer: l, start: layout.starts[b],
                                    rows: rows, keys: keys)
                    continue
                }
                attentionScores(att, q, cache: caches[b], rowOffset: layout.offsets[b], layer: l, start: layout.starts[b],
                                rows: rows, keys: keys)
                for r in 0..<(rows.count * config.headCount) { softmax(att + r * keys, count: keys) }
                attentionValues(z, att, cache: caches[b], rowOffset: layout.offsets[b], layer: l, start: layout.starts[b],
                                rows: rows, keys: keys)
            }
        }
    }

    /// Most new rows per sequence for `batchedAttention` (a sweep's variants have a few each).
    static let batchedAttentionMaxRows = 32

    /// Attention for a batch of many short sequences (a sweep's resumed variants): the sequences are
    /// shared between the cores, each done with the direct row kernels. Per sequence this is too
    /// little work for a BLAS call per head (or a parallel region), and done one after another it
    /// would leave the second core idle.
    private func batchedAttention(_ z: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, caches: [KVCache],
                                  layer l: Int, layout: BatchLayout, sequences: Int) {
        let c = config, hd = c.headDim
        let scale = c.attentionScale
        nonisolated(unsafe) let z = z
        WorkerPool.shared.run(sequences) { b in
            let start = layout.starts[b], rowOffset = layout.offsets[b]
            let length = start + layout.counts[b]
            let scratch = ScratchPool.shared.take(floats: length)
            defer { ScratchPool.shared.give(back: scratch) }
            let row = scratch.pointer
            caches[b].keys[l].withUnsafeBufferPointer { kBuffer in
                caches[b].values[l].withUnsafeBufferPointer { vBuffer in
                    guard let kBase = kBuffer.baseAddress, let vBase = vBuffer.baseAddress else { return }
                    for t in 0..<layout.counts[b] {
                        // Causal: keys first...start + t (first = 0 but on a sliding-window layer).
                        let first = c.firstVisibleKey(layer: l, query: start + t)
                        let visible = start + t + 1 - first
                        for h in 0..<c.headCount {
                            let kvh = h / c.groupSize
                            attentionScoresRow(row, q + (rowOffset + t) * c.qDim + h * hd, keys: kBase + first * c.kvDim + kvh * hd,
                                               stride: c.kvDim, count: visible, headDim: hd, scale: scale)
                            softmax(row, count: visible)
                            attentionValuesRow(z + (rowOffset + t) * c.qDim + h * hd, row, values: vBase + first * c.kvDim + kvh * hd,
                                               stride: c.kvDim, count: visible, headDim: hd)
                        }
                    }
                }
            }
        }
    }

    /// Attention of a few query rows (decode) when no hook sees the weights: each (row, head) is one
    /// task — scores, mask, softmax, values — so a layer's heads are one parallel region, or run
    /// inline when shorter than the hand-off. The same arithmetic as `attentionScores`, `softmax`
    /// and `attentionValues` in turn.
    private func decodeAttention(_ z: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, _ att: UnsafeMutablePointer<Float>,
                                 cache: KVCache, rowOffset: Int, layer l: Int, start: Int, rows: Range<Int>, keys: Int) {
        let c = config, hd = c.headDim, heads = c.headCount
        let scale = c.attentionScale
        let length = start + rows.upperBound                        // keys the last of these rows can see
        cache.keys[l].withUnsafeBufferPointer { kBuffer in
            cache.values[l].withUnsafeBufferPointer { vBuffer in
                guard let kBase = kBuffer.baseAddress, let vBase = vBuffer.baseAddress else { return }
                nonisolated(unsafe) let (z, att) = (z, att)
                // Scores and values are each ~hd multiply–adds per key and head.
                runDecodeTasks(rows.count * heads, work: 4 * rows.count * heads * length * hd) { task in
                    let i = task / heads, h = task % heads, t = rows.lowerBound + i
                    let visible = min(length, start + t + 1)
                    let row = att + (i * heads + h) * keys
                    attentionScoresRow(row, q + (rowOffset + t) * c.qDim + h * hd, keys: kBase + (h / c.groupSize) * hd,
                                       stride: c.kvDim, count: visible, headDim: hd, scale: scale)
                    // Causal mask (and a sliding window's), as `attentionScores` sets it.
                    let first = c.firstVisibleKey(layer: l, query: start + t)
                    for j in 0..<first { row[j] = -.infinity }
                    for j in (start + t + 1)..<max(keys, start + t + 1) { row[j] = -.infinity }
                    softmax(row, count: keys)
                    attentionValuesRow(z + (rowOffset + t) * c.qDim + h * hd, row, values: vBase + (h / c.groupSize) * hd,
                                       stride: c.kvDim, count: length, headDim: hd)
                }
            }
        }
    }

    /// Floats of attention weights held at once when no hook needs them whole (64 MB).
    nonisolated(unsafe) static var attentionChunkFloats = 16 << 20

    /// att[rows, H, keys] = q·kᵀ/√d_head for query rows `rows` of the sequence whose row 0 is buffer
    /// row `rowOffset` (its first new position is absolute `start`); future and absent keys are -inf.
    private func attentionScores(_ att: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, cache: KVCache,
                                 rowOffset: Int, layer l: Int, start: Int, rows: Range<Int>, keys: Int) {
        let c = config, hd = c.headDim
        let scale = c.attentionScale
        let length = start + rows.upperBound                        // keys the last of these rows can see
        cache.keys[l].withUnsafeBufferPointer { kBuffer in
            guard let kBase = kBuffer.baseAddress else { return }
            if rows.count <= kernelConfiguration.attentionRowMaxRows {
                // Decode: a few query rows. Direct dot products; a BLAS call per head would cost more in
                // call and thread hand-off overhead than the arithmetic (and wakes BLAS's spinning threads).
                runDecodeTasks(rows.count * c.headCount, work: rows.count * c.headCount * length * hd) { task in
                    let i = task / c.headCount, h = task % c.headCount, t = rows.lowerBound + i
                    let visible = min(length, start + t + 1)
                    let qh = q + (rowOffset + t) * c.qDim + h * hd, kh = kBase + (h / c.groupSize) * hd
                    let row = att + (i * c.headCount + h) * keys
                    attentionScoresRow(row, qh, keys: kh, stride: c.kvDim, count: visible, headDim: hd, scale: scale)
                }
                return
            }
            for h in 0..<c.headCount {
                let kvh = h / c.groupSize
                // [rows, length] block of head h, rows strided by H·keys.
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows.count), Int32(length), Int32(hd),
                            scale, q + (rowOffset + rows.lowerBound) * c.qDim + h * hd, Int32(c.qDim),
                            kBase + kvh * hd, Int32(c.kvDim), 0, att + h * keys, Int32(c.headCount * keys))
            }
        }
        // Causal mask: row t (absolute start + t) sees keys 0...start + t; on a sliding-window layer
        // only the window's last keys of those.
        for (i, t) in rows.enumerated() {
            let first = c.firstVisibleKey(layer: l, query: start + t)
            for h in 0..<c.headCount {
                let row = att + (i * c.headCount + h) * keys
                for j in 0..<first { row[j] = -.infinity }
                for j in (start + t + 1)..<max(keys, start + t + 1) { row[j] = -.infinity }
            }
        }
    }

    /// z[rows of the sequence at buffer row `rowOffset`, H·d_head] = pattern · V, with pattern laid out [rows, H, keys].
    private func attentionValues(_ z: UnsafeMutablePointer<Float>, _ att: UnsafePointer<Float>, cache: KVCache,
                                 rowOffset: Int, layer l: Int, start: Int, rows: Range<Int>, keys: Int) {
        let c = config, hd = c.headDim
        let length = start + rows.upperBound
        cache.values[l].withUnsafeBufferPointer { vBuffer in
            guard let vBase = vBuffer.baseAddress else { return }
            if rows.count <= kernelConfiguration.attentionRowMaxRows {
                // Decode: z_h = Σ_j p_j · v_j directly (see attentionScores).
                runDecodeTasks(rows.count * c.headCount, work: rows.count * c.headCount * length * hd) { task in
                    let i = task / c.headCount, h = task % c.headCount, t = rows.lowerBound + i
                    let p = att + (i * c.headCount + h) * keys, vh = vBase + (h / c.groupSize) * hd
                    let zh = z + (rowOffset + t) * c.qDim + h * hd
                    attentionValuesRow(zh, p, values: vh, stride: c.kvDim, count: length, headDim: hd)
                }
                return
            }
            for h in 0..<c.headCount {
                let kvh = h / c.groupSize
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows.count), Int32(hd), Int32(length),
                            1, att + h * keys, Int32(c.headCount * keys),
                            vBase + kvh * hd, Int32(c.kvDim), 0, z + (rowOffset + rows.lowerBound) * c.qDim + h * hd, Int32(c.qDim))
            }
        }
    }
}
