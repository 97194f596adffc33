// MARK: - The Gemma 3 block
//
// Beside the llama block in Forward.swift, calling the same hook points plus the two post-norms.
// What differs from llama is data in `ModelConfig`: √d_model embeddings, the query scale, the
// sliding window and the local RoPE base (read by `selfAttention`), and the tanh GELU.

extension Model {
    /// The Gemma 3 block over `rows`: norms before and after attention and after the MLP,
    /// per-head RMSNorm on queries and keys, GeGLU.
    func gemma3Block(_ rows: inout BlockRows, caches: inout [KVCache], context: TaskContext) throws {
        let c = config, l = rows.layer, s = rows.state, w = weights.blocks[l]
        guard let qNorm = w.qNorm, let kNorm = w.kNorm, let attnPostNorm = w.attnPostNorm, let ffnPostNorm = w.ffnPostNorm else {
            throw TransformerError.missingTensor("blk.\(l).attn_q_norm.weight")
        }
        try hook(.residPre(l), s.x, rows)
        rows.tape?.keep(.residPre, layer: l, s.x)

        // Attention: ln1 → q, k, v → RMSNorm of each q and k head → RoPE → softmax(q·kᵀ · scale,
        // causal, windowed on local layers) · v → W_O → ln1_post.
        rmsnorm(s.xb, s.x, w.attnNorm, n: rows.n, eps: c.normEpsilon)
        try hook(.ln1Normalized(l), s.xb, rows)
        matmul([s.q, s.k, s.v], s.xb, [w.wq, w.wk, w.wv], n: rows.n)
        rows.tape?.keep(.rawQ, layer: l, s.q)
        rows.tape?.keep(.rawK, layer: l, s.k)
        rmsnorm(s.q, s.q, qNorm, n: rows.n * c.headCount, eps: c.normEpsilon)      // [n·H, d_head]
        rmsnorm(s.k, s.k, kNorm, n: rows.n * c.kvHeadCount, eps: c.normEpsilon)    // [n·H_kv, d_head]
        try hook(.q(l), s.q, rows)
        try hook(.k(l), s.k, rows)
        try hook(.v(l), s.v, rows)
        try selfAttention(&rows, caches: &caches)
        matmul(s.xb, s.z, w.wo, n: rows.n)
        rows.tape?.keep(.attnProjected, layer: l, s.xb)
        rmsnorm(s.out, s.xb, attnPostNorm, n: rows.n, eps: c.normEpsilon)
        try hook(.ln1PostNormalized(l), s.out, rows)
        try hook(.attnOut(l), s.out, rows)
        addInPlace(s.x, s.out, count: rows.n * c.modelDim)
        try hook(.residMid(l), s.x, rows)
        rows.tape?.keep(.residMid, layer: l, s.x)

        // MLP: ln2 → GeGLU(W_gate·x, W_up·x) → W_down → ln2_post.
        try context.checkCancelled()
        rmsnorm(s.xb, s.x, w.ffnNorm, n: rows.n, eps: c.normEpsilon)
        try hook(.ln2Normalized(l), s.xb, rows)
        try gatedProjection(rows, w, .geglu)
        try hook(.mlpPost(l), s.hb, rows)
        matmul(s.xb, s.hb, w.wDown, n: rows.n)
        rows.tape?.keep(.mlpProjected, layer: l, s.xb)
        rmsnorm(s.out, s.xb, ffnPostNorm, n: rows.n, eps: c.normEpsilon)
        try hook(.ln2PostNormalized(l), s.out, rows)
        try hook(.mlpOut(l), s.out, rows)
        addInPlace(s.x, s.out, count: rows.n * c.modelDim)
        try hook(.residPost(l), s.x, rows)
    }
}
