import Foundation
import Transformer

// MARK: - Occlusion attribution

/// Per-token importance for an answer: how much log p(answer) drops when that token is replaced.
public struct OcclusionResult: Sendable, Equatable {
    /// The answer token id.
    public var answer: Int
    /// log p(answer) at the last position of the clean prompt.
    public var cleanLogProb: Double
    /// log p(answer) with token i replaced by the baseline, per position.
    public var occludedLogProbs: [Double]
    /// cleanLogProb − occludedLogProbs[i]: positive when the token supports the answer.
    public var importance: [Double] { occludedLogProbs.map { cleanLogProb - $0 } }
    /// Positions ordered from most to least important.
    public var ranking: [Int] { importance.indices.sorted { importance[$0] > importance[$1] } }
}

/// What an occluded token is replaced with.
public enum OcclusionBaseline: Sendable, Equatable {
    /// Another token (e.g. the end-of-text token).
    case token(Int)
    /// A zero vector in place of the token's embedding (hook_embed), as integrated gradients' baseline.
    case zeroEmbedding
}

/// Occlusion (Zeiler & Fergus): replace each input token with a baseline token and measure the change
/// in log p(answer) at the last position. All occluded variants have the prompt's length, so they run
/// as batches of one forward pass each.
public enum Occlusion {
    public static func attribute(model: Model, prompt: [Int], answer: Int, baseline: OcclusionBaseline, positions: [Int]? = nil,
                                 batchSize: Int = 16, context: TaskContext = .none) throws -> OcclusionResult {
        let c = model.config
        guard !prompt.isEmpty else { throw AnalysisError.emptyPrompt }
        var ids = [answer]
        if case .token(let t) = baseline { ids.append(t) }
        for t in ids where t < 0 || t >= c.vocabularySize {
            throw AnalysisError.intOutOfRange(name: "token", value: t, lowest: 0, highest: c.vocabularySize - 1)
        }
        let wanted = positions ?? Array(prompt.indices)
        for p in wanted where p < 0 || p >= prompt.count { throw AnalysisError.positionOutOfRange(p, tokenCount: prompt.count) }
        let quiet = TaskContext(isCancelled: { context.isCancelled })

        // Variant 0 is the clean prompt; variant k occludes wanted[k - 1].
        let occludedAt: [Int?] = [nil] + wanted.map { Optional($0) }
        var logProbs: [Double] = []
        var start = 0
        let zeros = [Float](repeating: 0, count: c.modelDim)
        while start < occludedAt.count {
            try context.checkCancelled()
            let slice = Array(occludedAt[start..<min(start + batchSize, occludedAt.count)])
            var chunk: [[Int]] = []
            let hooks = HookSet()
            for (b, position) in slice.enumerated() {
                var tokens = prompt
                if let p = position {
                    switch baseline {
                    case .token(let t): tokens[p] = t
                    case .zeroEmbedding: hooks.replace(.embed, positions: [p], with: zeros, batch: b)
                    }
                }
                chunk.append(tokens)
            }
            var caches = chunk.map { _ in model.makeCache() }
            // The pass reports its layers as a share of this chunk, so the bar moves from the first pass on.
            let done = start, total = occludedAt.count, size = chunk.count
            let inChunk = TaskContext(isCancelled: { quiet.isCancelled }, progress: { f, _ in
                context.report((Double(done) + f * Double(size)) / Double(total),
                               "occluding \(min(done + Int(f * Double(size)), total - 1))/\(total - 1)")
            })
            let logits = try model.forward(chunk, caches: &caches, hooks: hooks, logits: .last, context: inChunk)   // [B, 1, vocab]
            for b in 0..<chunk.count {
                let row = Array(logits.data[(b * c.vocabularySize)..<((b + 1) * c.vocabularySize)])
                logProbs.append(Softmax.logProbability(row, at: answer))
            }
            start += chunk.count
            context.report(Double(start) / Double(occludedAt.count), "occluded \(start - 1)/\(wanted.count)")
        }
        // Positions not asked for keep the clean value (zero importance).
        var occluded = [Double](repeating: logProbs[0], count: prompt.count)
        for (k, p) in wanted.enumerated() { occluded[p] = logProbs[k + 1] }
        return OcclusionResult(answer: answer, cleanLogProb: logProbs[0], occludedLogProbs: occluded)
    }
}
