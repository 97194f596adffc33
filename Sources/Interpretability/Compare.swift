import Foundation
import Transformer

// MARK: - Counterfactual comparison

/// Two prompts' next-token distributions side by side.
public struct NextTokenComparison: Sendable, Equatable {
    /// A token's probability under each prompt.
    public struct Entry: Sendable, Equatable {
        public var token: Int
        public var first: Double
        public var second: Double
        public var change: Double { second - first }
    }
    /// The top-K of each prompt (most likely first).
    public var topFirst: [Entry]
    public var topSecond: [Entry]
    /// KL(P₁ ‖ P₂) and KL(P₂ ‖ P₁) in nats.
    public var klFirstToSecond: Double
    public var klSecondToFirst: Double
    /// The tokens whose probability changed most (largest |p₂ − p₁| first).
    public var movers: [Entry]
}

public enum Compare {
    /// Runs both prompts and compares their last-position distributions.
    public static func nextToken(model: Model, first: [Int], second: [Int], top k: Int = 10,
                                 context: TaskContext = .none) throws -> NextTokenComparison {
        guard !first.isEmpty, !second.isEmpty else { throw AnalysisError.emptyPrompt }
        guard k >= 1 else { throw AnalysisError.intOutOfRange(name: "top", value: k, lowest: 1, highest: nil) }
        let quiet = TaskContext(isCancelled: { context.isCancelled })
        var cache1 = model.makeCache(), cache2 = model.makeCache()
        let l1 = try model.prefill(first, cache: &cache1, context: quiet)
        context.report(0.5, "first prompt")
        let l2 = try model.prefill(second, cache: &cache2, context: quiet)
        context.report(1, "second prompt")
        return distributions(Softmax.probabilities(l1), Softmax.probabilities(l2), top: k)
    }

    /// The comparison of two probability vectors over the same vocabulary.
    public static func distributions(_ p: [Double], _ q: [Double], top k: Int) -> NextTokenComparison {
        func entry(_ t: Int) -> NextTokenComparison.Entry { .init(token: t, first: p[t], second: q[t]) }
        func topIndices(_ v: [Double]) -> [Int] { Array(v.indices.sorted { v[$0] > v[$1] }.prefix(k)) }
        let moved = p.indices.sorted { abs(q[$0] - p[$0]) > abs(q[$1] - p[$1]) }.prefix(k)
        return NextTokenComparison(topFirst: topIndices(p).map(entry), topSecond: topIndices(q).map(entry),
                                klFirstToSecond: kl(p, q), klSecondToFirst: kl(q, p), movers: moved.map(entry))
    }

    /// KL(p ‖ q) = Σ p log(p/q) in nats (terms with p = 0 are 0; q is floored to avoid infinities).
    public static func kl(_ p: [Double], _ q: [Double]) -> Double {
        var s = 0.0
        for i in p.indices where p[i] > 0 { s += p[i] * (log(p[i]) - log(max(q[i], 1e-300))) }
        return max(s, 0)
    }
}
