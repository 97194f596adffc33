import Foundation
import Transformer

// MARK: - Reading a residual vector out as tokens

/// One token of a top-K list: id, text (when a tokenizer was given), probability and logit.
public struct TokenScore: Sendable, Equatable {
    public var id: Int
    public var token: String
    public var probability: Float
    public var logit: Float

    public init(id: Int, token: String, probability: Float, logit: Float) {
        self.id = id
        self.token = token
        self.probability = probability
        self.logit = logit
    }
}

/// The model's final RMSNorm and unembedding applied to arbitrary residual-stream vectors — the
/// read-out of the logit lens (nostalgebraist 2020): what the model would predict if it stopped
/// here. It uses `Model.logits(ofResiduals:)`, the forward pass's own norm and unembedding.
enum Readout {
    /// The top `k` tokens of each of `rows` residual vectors `states[rows, d_model]`.
    static func top(model: Model, _ states: [Float], rows: Int, k: Int, tokenizer: Tokenizer? = nil) throws -> [[TokenScore]] {
        let vocab = model.config.vocabularySize
        let all = try model.logits(ofResiduals: states, rows: rows)
        // Each row's softmax normaliser is a pass of `exp` over the whole vocabulary: the rows are
        // shared between the cores (the labels, which touch the tokenizer, are made afterwards).
        var picks = [[(index: Int, value: Float, probability: Float)]](repeating: [], count: rows)
        all.withUnsafeBufferPointer { logits in
            picks.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let source = logits, target = out
                DispatchQueue.concurrentPerform(iterations: rows) { r in
                    target[r] = Scores.top(UnsafeBufferPointer(rebasing: source[r * vocab..<(r + 1) * vocab]), k: k)
                }
            }
        }
        return picks.map { row in
            row.map { TokenScore(id: $0.index, token: Scores.label($0.index, tokenizer), probability: $0.probability, logit: $0.value) }
        }
    }
}

// MARK: - Softmax helpers

enum Scores {
    /// softmax(logits), computed stably in Double and returned as Float.
    static func softmax(_ logits: [Float]) -> [Float] {
        let m = logits.max() ?? 0
        var total = 0.0
        var out = [Float](repeating: 0, count: logits.count)
        for i in logits.indices {
            let e = exp(Double(logits[i] - m))
            out[i] = Float(e)
            total += e
        }
        let inv = Float(1 / total)
        for i in out.indices { out[i] *= inv }
        return out
    }

    /// p(index) under softmax(logits), in Double.
    static func probability(_ logits: [Float], _ index: Int) -> Double {
        let m = logits.max() ?? 0
        var total = 0.0
        for v in logits { total += exp(Double(v - m)) }
        return exp(Double(logits[index] - m)) / total
    }

    /// The `k` most likely tokens, most likely first.
    static func top(_ logits: [Float], k: Int, tokenizer: Tokenizer?) -> [TokenScore] {
        let m = logits.max() ?? 0
        var total = 0.0
        for v in logits { total += exp(Double(v - m)) }
        return Sampler.topK(logits, k).map { entry in
            TokenScore(id: entry.index, token: label(entry.index, tokenizer),
                       probability: Float(exp(Double(entry.value - m)) / total), logit: entry.value)
        }
    }

    /// The `k` most likely entries of one row of logits with their softmax probabilities, most
    /// likely first. `exp` runs in Float (arguments ≤ 0, relative error ~1e-7), summed in Double.
    static func top(_ logits: UnsafeBufferPointer<Float>, k: Int) -> [(index: Int, value: Float, probability: Float)] {
        var m = -Float.infinity
        for v in logits where v > m { m = v }
        var total = 0.0
        var chunk: Float = 0
        for (i, v) in logits.enumerated() {
            chunk += expf(v - m)
            if i & 255 == 255 { total += Double(chunk); chunk = 0 }
        }
        total += Double(chunk)
        var best: [(index: Int, value: Float)] = []
        for (i, v) in logits.enumerated() where best.count < k || v > best[best.count - 1].value {
            let at = best.firstIndex { v > $0.value } ?? best.count
            best.insert((i, v), at: at)
            if best.count > k { best.removeLast() }
        }
        return best.map { ($0.index, $0.value, Float(Double(expf($0.value - m)) / total)) }
    }

    /// A token's text, or `#id` without a tokenizer.
    static func label(_ id: Int, _ tokenizer: Tokenizer?) -> String {
        tokenizer.map { $0.piece(Int32(id)) } ?? "#\(id)"
    }
}
