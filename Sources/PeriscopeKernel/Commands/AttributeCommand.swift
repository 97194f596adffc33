import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `attribute p answer "tok" [baseline "tok"]`: occlusion attribution of each input token.
enum AttributeCommand {
    static let spec = CommandSpec(
        name: "attribute",
        group: .analysis,
        synopsis: "attribute p answer \"tok\" [baseline \"tok\"]",
        description: "Occlusion attribution: replaces each prompt token in turn with a baseline token (default \" the\", a filler that disturbs the model little by itself) and measures how much log p(answer) at the last position drops. Positive = the token supports the answer. Shows a coloured token strip and a table.",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt")],
        keywords: [
            Parameter("answer", .string, required: true, summary: "the answer token, e.g. \" Paris\""),
            Parameter("baseline", .string, summary: "the replacement token (default \" the\")"),
        ],
        example: "attribute \"The capital city of France is\" answer \" Paris\"",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let prompt = try arguments.prompt("p", session: context.session, model: model) else { return nil }
            let answer = try VerbArguments.singleToken(arguments.string("answer") ?? "", keyword: "answer", model: model,
                                                     range: arguments.range(of: "answer"))
            let baseline = try VerbArguments.singleToken(arguments.string("baseline") ?? " the", keyword: "baseline", model: model,
                                                       range: arguments.range(of: "baseline"))
            let result = try CommandError.catching(at: arguments.headRange) {
                try Occlusion.attribute(model: model.model, prompt: prompt.ids, answer: answer, baseline: .token(baseline),
                                        context: context.task)
            }
            let answerText = model.tokenizer.piece(Int32(answer))
            let importance = result.importance
            let strip = TokenStrip(title: "Occlusion attribution for \(quoted(answerText)) — \(prompt.summary)",
                                   tokens: prompt.tokens, scores: importance, scale: .diverging,
                                   valueLabel: "drop in log p(answer)", valueFormat: .fixed(2), kind: "attribution")
            let rank = Dictionary(uniqueKeysWithValues: result.ranking.enumerated().map { ($1, $0 + 1) })
            let maxAbs = importance.map(abs).max() ?? 1
            let rows: [[Table.Cell]] = prompt.tokens.indices.map { i in
                [.number(Double(i), .integer), .token(prompt.tokens[i]),
                 .number(importance[i], .fixed(3), intensity: maxAbs > 0 ? max(importance[i], 0) / maxAbs : 0),
                 .number(exp(result.occludedLogProbs[i]), .fixed(4)), .number(Double(rank[i] ?? 0), .integer)]
            }
            let table = Table(title: "Token importance for \(quoted(answerText))",
                              columns: [.init("pos", alignment: .right), .init("token"), .init("Δ log p", alignment: .right),
                                        .init("p(answer) occluded", alignment: .right), .init("rank", alignment: .right)],
                              rows: rows,
                              caption: "clean p(answer) = \(NumberFormat.fixed(4).format(exp(result.cleanLogProb))); baseline token \(quoted(model.tokenizer.piece(Int32(baseline))))",
                              kind: "attribution_table")
            var stripBundle = strip.mimeBundle
            stripBundle.data[MimeBundle.periscopeJSON] = appending(strip.json, [
                ("answer", .string(answerText)), ("answer_id", .int(answer)), ("baseline_id", .int(baseline)),
                ("clean_logprob", .num(result.cleanLogProb)), ("occluded_logprobs", .nums(result.occludedLogProbs)),
                ("importance", .nums(importance)), ("ranking", .array(result.ranking.map { .int($0) })),
            ]).serialized()
            let top = result.ranking.first.map { visibleToken(prompt.tokens[$0]) } ?? ""
            return VerbResults.result("Attribution", "occlusion attribution for \(quoted(answerText)); top token \(top)",
                                        [stripBundle, table.mimeBundle])
        })
}
