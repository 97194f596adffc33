import Foundation

// MARK: - Top tokens of many residual vectors
//
// The logit lens reads out layers × positions vectors (960 for 30 × 32): 54 GFLOP of unembedding
// on SmolLM2, 190 GFLOP on Gemma 3's 262,144-token vocabulary, and tens of millions of logits of
// which it keeps a handful. So the product runs in chunks of rows (each dequantised weight chunk
// serves every row of the chunk), into one scratch buffer reused by every chunk, and each row's
// top K and softmax normaliser are read straight off its contiguous logits, the cores splitting
// the rows. No [rows, vocab] array of all rows is ever built.

extension Model {
    /// Most rows per chunk.
    nonisolated(unsafe) static var readoutChunkRows = 384
    /// Most logits per chunk (128 MB of scratch): a large vocabulary gets fewer rows per chunk.
    static let readoutChunkFloats = 32 << 20

    /// The `k` most likely tokens of each of `rows` residual vectors `states[rows, d_model]`, most
    /// likely first: the final RMSNorm (unless `normalize` is false) and the unembedding, as the
    /// forward pass computes them; texts from `tokenizer` when given. Cancellation is checked and
    /// progress reported between chunks.
    public func topTokens(ofResiduals states: [Float], rows: Int, k: Int, normalize: Bool = true,
                          tokenizer: Tokenizer? = nil, context: TaskContext = .none) throws -> [[TokenScore]] {
        let d = config.modelDim, vocab = config.vocabularySize
        guard rows > 0, states.count == rows * d else {
            throw TransformerError.readoutShape(rows: rows, width: d, count: states.count)
        }
        guard k >= 1, k <= vocab else { throw TransformerError.topKOutOfRange(k: k, vocabularySize: vocab) }
        let most = max(1, min(Self.readoutChunkRows, Self.readoutChunkFloats / vocab))
        let chunks = (rows + most - 1) / most
        let per = (rows + chunks - 1) / chunks                      // balanced chunk height
        var normed = states                                          // [rows, d_model]
        if normalize {
            states.withUnsafeBufferPointer { x in
                normed.withUnsafeMutableBufferPointer { out in
                    rmsnorm(out.baseAddress!, x.baseAddress!, weights.finalNorm, n: rows, eps: config.normEpsilon)
                }
            }
        }
        let w = weights.output
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: per * vocab)   // [chunk, vocab], every entry written
        defer { logits.deallocate() }
        var result: [[TokenScore]] = []
        result.reserveCapacity(rows)
        var start = 0
        while start < rows {
            try context.checkCancelled()
            let n = min(per, rows - start)
            normed.withUnsafeBufferPointer { x in matmul(logits, x.baseAddress! + start * d, w, n: n) }
            try context.checkCancelled()
            result += rowTopTokens(logits, rows: n, vocab: vocab, k: k, tokenizer: tokenizer)
            start += n
            context.report(Double(start) / Double(rows), "read-out \(start)/\(rows)")
        }
        return result
    }

    /// Per row of logits[rows, vocab]: the top `k` and their softmax probabilities. Each row is
    /// contiguous, so a row is read twice from cache (the top k, then the normaliser); the cores
    /// take rows in turn.
    private func rowTopTokens(_ logits: UnsafeMutablePointer<Float>, rows n: Int, vocab: Int, k: Int,
                              tokenizer: Tokenizer?) -> [[TokenScore]] {
        var best = [[(index: Int, value: Float)]](repeating: [], count: n)
        var normaliser = [Double](repeating: 0, count: n)            // log Σ e^logit per row
        nonisolated(unsafe) let source = UnsafePointer(logits)
        best.withUnsafeMutableBufferPointer { bp in
            normaliser.withUnsafeMutableBufferPointer { np in
                nonisolated(unsafe) let (bests, logZ) = (bp, np)
                let parts = min(n, WorkerPool.shared.width)
                parallelFor(parts) { part in
                    var r = part
                    while r < n {
                        let row = UnsafeBufferPointer(start: source + r * vocab, count: vocab)
                        bests[r] = topK(row, k)
                        logZ[r] = logSumExp(row)
                        r += parts
                    }
                }
            }
        }
        return (0..<n).map { r in
            best[r].map { c in
                TokenScore(id: c.index, token: TokenScore.label(c.index, tokenizer),
                           probability: Float(Foundation.exp(Double(c.value) - normaliser[r])), logit: c.value)
            }
        }
    }
}

/// The `k` largest entries of `row`, largest first (ties keep the lower index first). Sixteen
/// entries at a time are tested against the k-th best so far; almost all fail, so the list is
/// touched only a handful of times per row. Every top-k of a row of logits comes here.
func topK(_ row: UnsafeBufferPointer<Float>, _ k: Int) -> [(index: Int, value: Float)] {
    guard let base = row.baseAddress else { return [] }
    var best: [(index: Int, value: Float)] = []
    best.reserveCapacity(k + 1)
    var threshold = -Float.infinity                                 // the k-th best so far
    func insert(_ i: Int) {
        let v = base[i]
        guard best.count < k || v > threshold else { return }
        let at = best.firstIndex { v > $0.value } ?? best.count
        best.insert((i, v), at: at)
        if best.count > k { best.removeLast() }
        if best.count == k { threshold = best[k - 1].value }
    }
    let raw = UnsafeRawPointer(base)
    var i = 0
    while i &+ 16 <= row.count {
        let v = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
        if best.count < k || any(v .> SIMD16<Float>(repeating: threshold)) {
            for j in i..<i &+ 16 { insert(j) }
        }
        i &+= 16
    }
    while i < row.count { insert(i); i &+= 1 }
    return best
}
