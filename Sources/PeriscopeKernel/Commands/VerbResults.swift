import Foundation
import Rendering
import Transformer

// MARK: - Pieces of the analysis verbs' results

/// Labels, vnd JSON fragments and result values the analysis verbs build their output from.
enum VerbResults {
    /// Each token made visible, for axis labels.
    static func labels(_ tokens: [String]) -> [String] { tokens.map(visibleToken) }

    /// `"12"` for layer rows.
    static func layerLabels(_ layers: [Int]) -> [String] { layers.map(String.init) }

    /// The prompt as a vnd JSON object.
    static func promptJSON(_ prompt: PromptValue) -> JSONOut {
        .object([("text", .string(prompt.text)), ("chat", .bool(prompt.chat)),
                 ("ids", .array(prompt.ids.map { .int($0) })), ("tokens", .strings(prompt.tokens))])
    }

    /// Top-K lists as `{"ids","tokens","probs","logits"}`, one inner array per list.
    static func scoresJSON(_ lists: [[TokenScore]]) -> JSONOut {
        .object([
            ("ids", .array(lists.map { list in .array(list.map { .int($0.id) }) })),
            ("tokens", .array(lists.map { list in .strings(list.map(\.token)) })),
            ("probs", .array(lists.map { list in .nums(list.map { Double($0.probability) }) })),
            ("logits", .array(lists.map { list in .nums(list.map { Double($0.logit) }) })),
        ])
    }

    /// A rendered result value whose vnd JSON gets `extra` pairs.
    static func result(_ bundle: MimeBundle, json: JSONOut, extra: [(String, JSONOut)], typeName: String,
                       summary: String) -> Value {
        var bundle = bundle
        bundle.json = appending(json, extra)
        return .result(RenderedResult(typeName: typeName, summary: summary, bundle: bundle))
    }

    /// `"Love"` or `"Love" and 2 more prompts` for labels.
    static func shortList(_ prompts: [PromptValue]) -> String {
        guard let first = prompts.first else { return "[]" }
        let text = first.text.count > 24 ? String(first.text.prefix(21)) + "…" : first.text
        let more = prompts.count - 1
        return quoted(text) + (more > 0 ? " and \(more) more prompt\(more == 1 ? "" : "s")" : "")
    }

    /// Texts quoted and joined, cut after a few.
    static func quotedList(_ texts: [String]) -> String {
        let shown = texts.prefix(4).map { quoted($0.count > 40 ? String($0.prefix(37)) + "…" : $0) }
        return shown.joined(separator: ", ") + (texts.count > 4 ? ", … (\(texts.count) in all)" : "")
    }

    /// A bundle of several parts as one rendered result.
    static func result(_ typeName: String, _ summary: String, _ parts: [MimeBundle]) -> Value {
        .result(RenderedResult(typeName: typeName, summary: summary, bundle: MimeBundle.combining(parts), parts: parts))
    }
}
