import Foundation

// MARK: - Read-out and embeddings
//
// The logit lens and friends need the final norm and the unembedding outside a forward pass.
// These reuse the model's own F32 copy (no second 100 MB matrix) and the same ops as `forward`.

extension Model {
    /// Logits `[rows, vocab]` of residual vectors `states[rows, d_model]`: the final RMSNorm
    /// (unless `normalize` is false, for states already normalised) and then the unembedding.
    /// Applied to block L's `resid_post`, this is the logit lens; applied to the last block's, it
    /// reproduces the model's logits.
    public func logits(ofResiduals states: [Float], rows: Int, normalize: Bool = true) throws -> [Float] {
        let d = config.modelDim, vocab = config.vocabularySize
        guard rows > 0, states.count == rows * d else {
            throw TransformerError.readoutShape(rows: rows, width: d, count: states.count)
        }
        var normed = states                                          // [rows, d_model]
        if normalize {
            states.withUnsafeBufferPointer { x in
                normed.withUnsafeMutableBufferPointer { out in
                    rmsnorm(out.baseAddress!, x.baseAddress!, weights.finalNorm, n: rows, eps: config.normEpsilon)
                }
            }
        }
        var logits = [Float](repeating: 0, count: rows * vocab)      // [rows, vocab]
        normed.withUnsafeBufferPointer { x in
            logits.withUnsafeMutableBufferPointer { out in
                matmul(out.baseAddress!, x.baseAddress!, weights.output, n: rows)
            }
        }
        return logits
    }

    /// The token embeddings `[tokens.count, d_model]` (what `hook_embed` sees).
    public func embeddings(of tokens: [Int]) throws -> [Float] {
        let d = config.modelDim
        var out = [Float](repeating: 0, count: tokens.count * d)
        try out.withUnsafeMutableBufferPointer { buffer in
            for (r, token) in tokens.enumerated() {
                guard token >= 0 && token < config.vocabularySize else {
                    throw TransformerError.tokenOutOfRange(token: token, vocabularySize: config.vocabularySize)
                }
                weights.tokenEmbedding.dequantizeRows(token..<token + 1, into: buffer.baseAddress! + r * d)
            }
        }
        if config.embeddingScale != 1 { for i in out.indices { out[i] *= config.embeddingScale } }
        return out
    }

    /// The unembedding row of `token` (`[d_model]`): its logit is this row · ln_final(resid).
    public func unembeddingRow(_ token: Int) throws -> [Float] {
        guard token >= 0 && token < config.vocabularySize else {
            throw TransformerError.tokenOutOfRange(token: token, vocabularySize: config.vocabularySize)
        }
        var out = [Float](repeating: 0, count: config.modelDim)
        out.withUnsafeMutableBufferPointer { weights.output.dequantizeRows(token..<token + 1, into: $0.baseAddress!) }
        return out
    }

    /// Standard deviation of all token-embedding entries as `hook_embed` sees them (the scale of
    /// causal-tracing noise). It reads every row (0.3 s for SmolLM2's 49,152, more for larger
    /// vocabularies), so it checks `context` between blocks of rows and an interrupt never waits for
    /// the whole table.
    public func embeddingStandardDeviation(context: TaskContext = .none) throws -> Float {
        let w = weights.tokenEmbedding
        let rows = config.vocabularySize, d = config.modelDim
        let block = 2048
        var sum = 0.0, sumSquares = 0.0
        var buffer = [Float](repeating: 0, count: block * d)
        for start in stride(from: 0, to: rows, by: block) {
            try context.checkCancelled()
            let end = min(rows, start + block)
            buffer.withUnsafeMutableBufferPointer { w.dequantizeRows(start..<end, into: $0.baseAddress!) }
            for v in buffer[0..<(end - start) * d] { sum += Double(v); sumSquares += Double(v) * Double(v) }
        }
        let n = Double(rows * d)
        return Float((sumSquares / n - (sum / n) * (sum / n)).squareRoot()) * config.embeddingScale
    }
}
