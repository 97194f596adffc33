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
/// here. It uses `Model.topTokens(ofResiduals:)`, the forward pass's own norm and unembedding.
enum Readout {
    /// The top `k` tokens of each of `rows` residual vectors `states[rows, d_model]`, read out in
    /// large chunks by `Model.topTokens` (cancellation and progress between chunks).
    static func top(model: Model, _ states: [Float], rows: Int, k: Int, tokenizer: Tokenizer? = nil,
                    context: TaskContext = .none) throws -> [[TokenScore]] {
        try model.topTokens(ofResiduals: states, rows: rows, k: k, context: context).map { row in
            row.map { TokenScore(id: $0.id, token: Scores.label($0.id, tokenizer), probability: $0.probability, logit: $0.logit) }
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

    /// p(index) under softmax(logits), in Double; `index` counts from the slice's start.
    static func probability(_ logits: ArraySlice<Float>, _ index: Int) -> Double {
        exp(Double(logits[logits.startIndex + index]) - logits.withUnsafeBufferPointer(logSumExp))
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

    /// A token's text, or `#id` without a tokenizer.
    static func label(_ id: Int, _ tokenizer: Tokenizer?) -> String {
        tokenizer.map { $0.piece(Int32(id)) } ?? "#\(id)"
    }
}
