import Foundation

// MARK: - Token scores

/// One entry of a top-K list: token id, its text, its softmax probability and its logit.
public struct TokenScore: Sendable, Equatable {
    public var id: Int
    /// The token's text, or `#id` when no tokenizer named it.
    public var token: String
    public var probability: Float
    public var logit: Float

    public init(id: Int, token: String? = nil, probability: Float, logit: Float) {
        self.id = id
        self.token = token ?? "#\(id)"
        self.probability = probability
        self.logit = logit
    }

    /// A token's text, or `#id` without a tokenizer.
    public static func label(_ id: Int, _ tokenizer: Tokenizer?) -> String {
        tokenizer.map { $0.piece(Int32(id)) } ?? "#\(id)"
    }
}

// MARK: - Softmax over one row of logits

/// Softmax, its logarithm and the top K of one row of logits, stable (the maximum is subtracted
/// before exponentiating) and summed in Double. The forward pass's in-place attention softmax and
/// the batched read-out (`Model.topTokens(ofResiduals:)`) have their own loops; everything else
/// that scores tokens comes here.
public enum Softmax {
    /// softmax(logits), in Double.
    public static func probabilities(_ logits: [Float]) -> [Double] {
        let top = Double(logits.max() ?? 0)
        var p = logits.map { exp(Double($0) - top) }
        let total = p.reduce(0, +)
        for i in p.indices { p[i] /= total }
        return p
    }

    /// log softmax(logits)[index], in Double; `index` counts from the slice's start.
    public static func logProbability(_ logits: ArraySlice<Float>, at index: Int) -> Double {
        Double(logits[logits.startIndex + index]) - logits.withUnsafeBufferPointer(logSumExp)
    }

    /// log softmax(logits)[index], in Double.
    public static func logProbability(_ logits: [Float], at index: Int) -> Double {
        logProbability(logits[...], at: index)
    }

    /// softmax(logits)[index], in Double; `index` counts from the slice's start.
    public static func probability(_ logits: ArraySlice<Float>, at index: Int) -> Double {
        exp(logProbability(logits, at: index))
    }

    /// The `k` most likely tokens, most likely first (ties keep the lower id first), with their
    /// probabilities over the whole row; texts from `tokenizer` when given.
    public static func top(_ logits: [Float], k: Int, tokenizer: Tokenizer? = nil) -> [TokenScore] {
        let m = Double(logits.max() ?? 0)
        var total = 0.0
        for v in logits { total += exp(Double(v) - m) }
        return Sampler.topK(logits, k).map { entry in
            TokenScore(id: entry.index, token: TokenScore.label(entry.index, tokenizer),
                       probability: Float(exp(Double(entry.value) - m) / total), logit: entry.value)
        }
    }
}
