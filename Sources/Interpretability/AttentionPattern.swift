import Foundation
import Transformer

// MARK: - Result

/// Attention probabilities of one layer: for each head, query × key (rows sum to 1; keys after
/// the query are 0, as the causal mask leaves them).
public struct AttentionPatternResult: Sendable, Equatable {
    public var layer: Int
    public var heads: [Int]
    /// The prompt's token ids and texts (the labels of both axes).
    public var promptIDs: [Int]
    public var promptTokens: [String]
    /// `patterns[h][q][k]`: how much query position `q` of head `heads[h]` attends to key `k`.
    public var patterns: [[[Float]]]
}

// MARK: - Attention pattern

/// Reads `blocks.{l}.attn.hook_pattern` for one prompt.
public enum AttentionPattern {
    /// The pattern of `layer`, one head or all heads (`head == nil`). Runs the prompt up to `layer` only.
    public static func run(model: Model, prompt: [Int], layer: Int, head: Int? = nil, tokenizer: Tokenizer? = nil,
                           context: TaskContext = .none) throws -> AttentionPatternResult {
        let c = model.config
        try Check.prompt(prompt)
        try Check.layer(layer, c)
        if let head, head < 0 || head >= c.headCount {
            throw AnalysisError.intOutOfRange(name: "head", value: head, lowest: 0, highest: c.headCount - 1)
        }
        let heads = head.map { [$0] } ?? Array(0..<c.headCount)
        let t = prompt.count
        var patterns = [[[Float]]](repeating: [[Float]](repeating: [Float](repeating: 0, count: t), count: t),
                                   count: heads.count)
        let hooks = HookSet()
        hooks.add(.pattern(layer)) { view in
            // view rows: [H, keys] per query position; keys == t for a fresh run.
            let keys = view.shape[1]
            for q in 0..<view.positions {
                let row = view.row(batch: 0, position: q)
                for (i, h) in heads.enumerated() {
                    for k in 0..<min(keys, t) { patterns[i][q][k] = row[h * keys + k] }
                }
            }
        }
        try model.run(prompt, hooks: hooks, through: layer, context: context)
        return AttentionPatternResult(layer: layer, heads: heads, promptIDs: prompt,
                                      promptTokens: prompt.map { TokenScore.label($0, tokenizer) }, patterns: patterns)
    }
}
