import COpenBLAS
import Foundation

// MARK: - Top tokens of many residual vectors
//
// The logit lens reads out layers × positions vectors (960 for 30 × 32): 54 GFLOP of unembedding,
// and 47 M logits of which it keeps a handful. So the product runs in large chunks (BLAS reaches
// ~180 GFLOPS on 256 columns against ~85 on 64), as logitsᵀ[vocab, chunk] = W_U · xᵀ, the
// orientation BLAS shares best over its threads, and each column's maximum, top K and softmax
// normaliser are read straight off that layout, eight columns per vector, both cores splitting the
// vocabulary. No [rows, vocab] array is ever built.

extension Model {
    /// Most rows (columns of logitsᵀ) per chunk: 384 × 49152 floats = 75 MB of scratch.
    nonisolated(unsafe) static var readoutChunkRows = 384

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
        let chunks = (rows + Self.readoutChunkRows - 1) / Self.readoutChunkRows
        let per = (rows + chunks - 1) / chunks                      // balanced chunk width
        var normed = states                                          // [rows, d_model]
        if normalize {
            states.withUnsafeBufferPointer { x in
                normed.withUnsafeMutableBufferPointer { out in
                    rmsnorm(out.baseAddress!, x.baseAddress!, weights.finalNorm, n: rows, eps: config.normEpsilon)
                }
            }
        }
        let w = weights.output
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: vocab * per)   // logitsᵀ[vocab, chunk]
        defer { scratch.deallocate() }
        var result: [[TokenScore]] = []
        result.reserveCapacity(rows)
        var start = 0
        while start < rows {
            try context.checkCancelled()
            let n = min(per, rows - start)
            try normed.withUnsafeBufferPointer { x in
                let xs = x.baseAddress! + start * d
                // The row-major product, transposed into the scratch layout.
                var logits = [Float](repeating: 0, count: n * vocab)
                logits.withUnsafeMutableBufferPointer { matmul($0.baseAddress!, xs, w, n: n) }
                for i in 0..<n { for v in 0..<vocab { scratch[v * n + i] = logits[i * vocab + v] } }
                guard !context.isCancelled else { throw CancelledError() }
            }
            result += columnTopTokens(scratch, columns: n, vocab: vocab, k: k, tokenizer: tokenizer)
            start += n
            context.report(Double(start) / Double(rows), "read-out \(start)/\(rows)")
        }
        return result
    }

    /// Per column of logitsᵀ[vocab, columns]: top `k` and softmax probabilities. The two cores take
    /// half the vocabulary each; their maxima, normalisers and candidates are merged.
    private func columnTopTokens(_ logits: UnsafeMutablePointer<Float>, columns n: Int, vocab: Int, k: Int,
                                 tokenizer: Tokenizer?) -> [[TokenScore]] {
        let parts = 2
        let span = (vocab + parts - 1) / parts
        var partial = [ColumnStats](repeating: ColumnStats(columns: 0, k: k), count: parts)
        nonisolated(unsafe) let source = logits
        partial.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let target = out
            parallelFor(parts) { p in
                let lo = p * span, hi = min(vocab, lo + span)
                target[p] = ColumnStats.scan(source, columns: n, vocab: lo..<hi, k: k)
            }
        }
        return (0..<n).map { j in
            let m = partial.map { $0.maximum[j] }.max() ?? 0
            var total = 0.0
            var candidates: [(id: Int, logit: Float)] = []
            for s in partial {
                total += s.sum[j] * Double(expf(s.maximum[j] - m))
                candidates += s.best[j]
            }
            candidates.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
            return candidates.prefix(k).map { c in
                TokenScore(id: c.id, token: TokenScore.label(c.id, tokenizer), probability: Float(Double(expf(c.logit - m)) / total),
                           logit: c.logit)
            }
        }
    }
}

/// One vocabulary range's view of each column: its maximum, Σ e^(logit − maximum), top-k.
private struct ColumnStats {
    var maximum: [Float]
    var sum: [Double]
    var best: [[(id: Int, logit: Float)]]

    init(columns: Int, k: Int) {
        maximum = [Float](repeating: -.infinity, count: columns)
        sum = [Double](repeating: 0, count: columns)
        best = [[(id: Int, logit: Float)]](repeating: [], count: columns)
    }

    /// Two passes over rows `vocab` of logitsᵀ: the maxima (and top-k candidates), then the sums.
    static func scan(_ logits: UnsafePointer<Float>, columns n: Int, vocab: Range<Int>, k: Int) -> ColumnStats {
        var s = ColumnStats(columns: n, k: k)
        // Pass 1: per column the k largest (a row is n contiguous columns; most values fail the
        // threshold test against the current k-th best, eight columns at a time).
        var threshold = [Float](repeating: -.infinity, count: n)   // the k-th best so far per column
        for v in vocab {
            let row = logits + v * n
            var j = 0
            while j + 8 <= n {
                let values = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
                let limit = threshold.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress! + j).loadUnaligned(as: SIMD8<Float>.self) }
                if any(values .> limit) {
                    for c in j..<j + 8 where row[c] > threshold[c] { s.insert(v, row[c], column: c, k: k, threshold: &threshold) }
                }
                j += 8
            }
            while j < n {
                if row[j] > threshold[j] { s.insert(v, row[j], column: j, k: k, threshold: &threshold) }
                j += 1
            }
        }
        for j in 0..<n { s.maximum[j] = s.best[j].first?.logit ?? -.infinity }
        // Pass 2: Σ e^(logit − maximum), in Float over 256 rows at a time, then in Double.
        var lane = [Float](repeating: 0, count: n)
        s.maximum.withUnsafeBufferPointer { mp in
            lane.withUnsafeMutableBufferPointer { lp in
                let m = UnsafeRawPointer(mp.baseAddress!), acc = UnsafeMutableRawPointer(lp.baseAddress!)
                var v = vocab.lowerBound
                while v < vocab.upperBound {
                    let end = min(vocab.upperBound, v + 256)
                    for r in v..<end {
                        let row = UnsafeRawPointer(logits + r * n)
                        var j = 0
                        while j + 8 <= n {
                            let o = j * 4
                            let e = exp8(row.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) - m.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                            acc.storeBytes(of: acc.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + e, toByteOffset: o, as: SIMD8<Float>.self)
                            j += 8
                        }
                        while j < n { lp[j] += expf(logits[r * n + j] - mp[j]); j += 1 }
                    }
                    for j in 0..<n { s.sum[j] += Double(lp[j]); lp[j] = 0 }
                    v = end
                }
            }
        }
        return s
    }

    /// Inserts (id, logit) into column `c`'s best list (descending; ties keep the lower id first).
    private mutating func insert(_ id: Int, _ logit: Float, column c: Int, k: Int, threshold: inout [Float]) {
        let at = best[c].firstIndex { logit > $0.logit } ?? best[c].count
        best[c].insert((id, logit), at: at)
        if best[c].count > k { best[c].removeLast() }
        if best[c].count == k { threshold[c] = best[c][k - 1].logit }
    }
}
