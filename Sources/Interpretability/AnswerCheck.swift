import Foundation
import Transformer

// MARK: - Answers that are not what the user meant

/// An answer token the model finds improbable where a spelling of the same word is far likelier:
/// `"Rome"` (no leading space) after "… in the city of" has p = 0.0004 where `" Rome"` has 0.3.
/// An effect measured on such an answer (patching, tracing, attribution, gradients) is an effect
/// on a token the model was never going to say, so every verb that takes an answer names it.
public struct AnswerCheck: Sendable, Equatable {
    /// The keyword the token came from (`answer`, `against`).
    public var keyword: String
    public var answer: Int
    public var answerText: String
    public var answerProbability: Double
    /// The likeliest single-token spelling of the same word (leading space added or removed,
    /// other casing).
    public var variant: Int
    public var variantText: String
    public var variantProbability: Double

    /// The answer counts as improbable below this probability…
    public static let improbable = 0.05
    /// …when a variant is at least this many times likelier.
    public static let likelierBy = 10.0

    /// One sentence naming both tokens, their probabilities and the fix.
    public var description: String {
        "The \(keyword) \(Self.quote(answerText)) has p = \(Self.format(answerProbability)) here, but "
            + "\(Self.quote(variantText)) (\(Self.difference(answerText, variantText))) has p = \(Self.format(variantProbability)), "
            + "\(Self.times(variantProbability / max(answerProbability, 1e-300))) likelier: the effects below are measured on a token "
            + "the model was not going to say. Did you mean `\(keyword) \(Self.quote(variantText))`?"
    }

    /// The variants of an answer's text: with the leading space added or removed, in lower case,
    /// capitalised and upper case.
    public static func variants(of text: String) -> [String] {
        let bare = text.hasPrefix(" ") ? String(text.dropFirst()) : text
        guard !bare.isEmpty else { return [] }
        let casings = [bare, bare.lowercased(), bare.prefix(1).uppercased() + bare.dropFirst(), bare.uppercased()]
        var seen = Set<String>([text]), out: [String] = []
        for c in casings {
            for v in [c, " " + c] where seen.insert(v).inserted { out.append(v) }
        }
        return out
    }

    /// Checks `answer` against its single-token variants under `logits` (one row, the position the
    /// answer is scored at); nil when the answer is probable enough or no variant is far likelier.
    public static func check(answer: Int, keyword: String = "answer", logits: [Float], tokenizer: Tokenizer) -> AnswerCheck? {
        guard logits.indices.contains(answer) else { return nil }
        let logZ = logits.withUnsafeBufferPointer(logSumExp)
        let p = { (id: Int) in exp(Double(logits[id]) - logZ) }
        let pAnswer = p(answer)
        guard pAnswer < improbable else { return nil }
        let text = tokenizer.decode([Int32(answer)])
        var best: (id: Int, text: String, p: Double)?
        for v in variants(of: text) {
            let ids = tokenizer.encode(v, addSpecial: false, parseSpecial: false)
            guard ids.count == 1, let id = ids.first.map(Int.init), id != answer, logits.indices.contains(id) else { continue }
            let pv = p(id)
            if pv > (best?.p ?? 0) { best = (id, v, pv) }
        }
        guard let best, best.p >= likelierBy * pAnswer else { return nil }
        return AnswerCheck(keyword: keyword, answer: answer, answerText: text, answerProbability: pAnswer,
                           variant: best.id, variantText: best.text, variantProbability: best.p)
    }

    /// Runs `prompt` once and checks each of `answers` (keyword, token id) at its last position.
    public static func check(model: Model, prompt: [Int], answers: [(keyword: String, token: Int)], tokenizer: Tokenizer,
                             context: TaskContext = .none) throws -> [AnswerCheck] {
        try Check.prompt(prompt)
        var caches = [model.makeCache()]
        let logits = try model.forward([prompt], caches: &caches, logits: .last,
                                       context: TaskContext(isCancelled: { context.isCancelled })).data
        return answers.compactMap { check(answer: $0.token, keyword: $0.keyword, logits: logits, tokenizer: tokenizer) }
    }

    // MARK: Wording

    private static func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }

    private static func format(_ p: Double) -> String {
        p >= 0.01 ? String(format: "%.2f", p) : String(format: "%.2g", p)
    }

    private static func times(_ r: Double) -> String {
        r >= 1e4 ? String(format: "%.0e times", r) : String(format: "%.0f times", r)
    }

    private static func difference(_ a: String, _ b: String) -> String {
        let spaceA = a.hasPrefix(" "), spaceB = b.hasPrefix(" ")
        let bareA = spaceA ? String(a.dropFirst()) : a, bareB = spaceB ? String(b.dropFirst()) : b
        var parts: [String] = []
        if spaceB && !spaceA { parts.append("with a leading space") }
        if spaceA && !spaceB { parts.append("without the leading space") }
        if bareA != bareB { parts.append("other casing") }
        return parts.joined(separator: ", ")
    }
}
