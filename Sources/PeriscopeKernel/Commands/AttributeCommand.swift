import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `attribute p answer "tok" [against "tok2"] [method …] [steps N] [baseline zero|"tok"]`: per-token
/// importance by occlusion (the default) or from gradients at the embeddings.
enum AttributeCommand {
    static let methods = ["occlusion"] + GradientAttributionMethod.allCases.map(\.rawValue)

    static let spec = CommandSpec(
        name: "attribute",
        group: .analysis,
        synopsis: "attribute p answer \"tok\" [against \"tok2\"] [method occlusion|saliency|input_x_gradient|integrated_gradients] [steps N] [baseline zero|\"tok\"]",
        description: "Per-token importance for log p(answer) at the last position (or the logit difference answer − against). `occlusion` (default) replaces each token in turn with a baseline token (default \" the\") and measures the drop. `saliency` is the norm of the gradient at each token's embedding; `input_x_gradient` is embedding · gradient; `integrated_gradients` averages the gradient along the straight path from a baseline (`baseline zero`, the default, or a token's embedding at every position) with `steps` midpoint steps (default 32) and reports the completeness gap: how far the scores' sum is from the metric's change, a sign of an unresolved path. Positive = the token supports the answer. Shows a coloured token strip and a table.",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt")],
        keywords: [
            Parameter("answer", .string, required: true, summary: "the answer token, e.g. \" Paris\""),
            Parameter("against", .string, summary: "score the logit difference answer − against instead"),
            Parameter("method", .choice(methods, allowsInt: false), summary: "occlusion (default), saliency, input_x_gradient or integrated_gradients"),
            Parameter("steps", .int, summary: "integrated gradients: midpoint steps (default 32)"),
            Parameter("baseline", .name, summary: "occlusion: the replacement token (default \" the\"); integrated gradients: `zero` (default) or a token"),
        ],
        example: "attribute \"The capital city of France is\" answer \" Paris\" method integrated_gradients",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let prompt = try arguments.prompt("p", session: context.session, model: model) else { return nil }
            let tokens = try VerbArguments.answer(arguments, model: model)
            let answer = tokens.answer
            let method = arguments.word("method") ?? "occlusion"
            if method != "integrated_gradients", arguments.has("steps") {
                throw CommandError.inapplicableKeyword("steps", appliesTo: "`method integrated_gradients`", range: arguments.range(of: "steps"))
            }
            if let gradientMethod = GradientAttributionMethod(rawValue: method) {
                return try gradientAttribution(arguments, context: context, model: model, prompt: prompt, tokens: tokens,
                                               method: gradientMethod)
            }
            if tokens.against != nil {
                throw CommandError.inapplicableKeyword("against", appliesTo: "gradient methods such as `method saliency` (occlusion scores log p(answer))",
                                                       range: arguments.range(of: "against"))
            }
            if case .symbol(let word)? = arguments.value("baseline") {
                throw CommandError.typeMismatch(parameter: "baseline", verb: "attribute",
                                                expected: "a token given as a string for occlusion (e.g. `baseline \" the\"`)",
                                                given: "the word `\(word)`", range: arguments.range(of: "baseline"))
            }
            let baseline = try VerbArguments.singleToken(arguments.string("baseline") ?? " the", keyword: "baseline", model: model,
                                                       range: arguments.range(of: "baseline"))
            let (result, notes) = try CommandError.catching(at: arguments.headRange) {
                let notes = try ResultNotes.answers([("answer", answer)], prompt: prompt, model: model, task: context.task)
                return (try Occlusion.attribute(model: model.model, prompt: prompt.ids, answer: answer, baseline: .token(baseline),
                                                context: context.task), notes)
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
            stripBundle.json = appending(strip.json, [
                ("answer", .string(answerText)), ("answer_id", .int(answer)), ("baseline_id", .int(baseline)),
                ("clean_logprob", .num(result.cleanLogProb)), ("occluded_logprobs", .nums(result.occludedLogProbs)),
                ("importance", .nums(importance)), ("ranking", .array(result.ranking.map { .int($0) })),
            ])
            let top = result.ranking.first.map { visibleToken(prompt.tokens[$0]) } ?? ""
            return VerbResults.noting(VerbResults.result("Attribution", "occlusion attribution for \(quoted(answerText)); top token \(top)",
                                                           [stripBundle, table.mimeBundle]), notes)
        })

    // MARK: - Gradient methods

    static func gradientAttribution(_ arguments: BoundArguments, context: CommandContext, model: LoadedModel, prompt: PromptValue,
                                    tokens: AnswerTokens, method: GradientAttributionMethod) throws -> Value {
        let (answer, against) = (tokens.answer, tokens.against)
        let steps = arguments.int("steps") ?? 32
        guard steps >= 1, steps <= 1024 else {
            throw CommandError.outOfRange(what: "steps", value: steps, valid: "1..1024", range: arguments.range(of: "steps"))
        }
        var baseline = GradientBaseline.zero
        switch arguments.value("baseline") {
        case nil: break
        case .symbol("zero")?: break
        case .string(let text)?:
            guard method == .integratedGradients else {
                throw CommandError.inapplicableKeyword("baseline", appliesTo: "`method integrated_gradients` and occlusion (\(method.rawValue) reads the gradient at the prompt itself)",
                                                       range: arguments.range(of: "baseline"))
            }
            baseline = .token(try VerbArguments.singleToken(text, keyword: "baseline", model: model, range: arguments.range(of: "baseline")))
        case let other?:
            throw CommandError.typeMismatch(parameter: "baseline", verb: "attribute",
                                            expected: "`zero` or a token given as a string (e.g. `baseline \" the\"`)",
                                            given: withArticle(other.typeName), range: arguments.range(of: "baseline"))
        }
        let metric = tokens.gradientMetric
        let (result, notes) = try CommandError.catching(at: arguments.headRange) {
            let notes = try ResultNotes.answers(tokens.labelled,
                                                prompt: prompt, model: model, task: context.task)
            return (try GradientAttribution.attribute(model: model.model, prompt: prompt.ids, metric: metric, method: method,
                                                      steps: steps, baseline: baseline, context: context.task), notes)
        }
        let piece = { (id: Int) in model.tokenizer.piece(Int32(id)) }
        let answerText = piece(answer)
        let metricName = against.map { "logit(\(visibleToken(answerText))) − logit(\(visibleToken(piece($0))))" }
            ?? "log p(\(visibleToken(answerText)))"
        let label: String
        switch method {
        case .saliency: label = "‖gradient‖"
        case .inputXGradient: label = "embedding · gradient"
        case .integratedGradients: label = "integrated gradient"
        }
        let scores = result.scores
        let strip = TokenStrip(title: "\(method.rawValue) attribution of \(metricName) — \(prompt.summary)",
                               tokens: prompt.tokens, scores: scores, scale: method == .saliency ? .sequential : .diverging,
                               valueLabel: label, valueFormat: .fixed(3), kind: "attribution")
        let rank = Dictionary(uniqueKeysWithValues: result.ranking.enumerated().map { ($1, $0 + 1) })
        let maxAbs = scores.map(abs).max() ?? 1
        let rows: [[Table.Cell]] = prompt.tokens.indices.map { i in
            [.number(Double(i), .integer), .token(prompt.tokens[i]),
             .number(scores[i], .fixed(4), intensity: maxAbs > 0 ? abs(scores[i]) / maxAbs : 0),
             .number(Double(rank[i] ?? 0), .integer)]
        }
        var caption = "\(metricName) = \(NumberFormat.fixed(4).format(result.value))"
        var extra: [(String, JSONOut)] = [
            ("method", .string(method.rawValue)), ("metric", .string(against == nil ? "logprob" : "logit_diff")),
            ("answer", .string(answerText)), ("answer_id", .int(answer)), ("against_id", against.map { .int($0) } ?? .null),
            ("value", .num(result.value)), ("scores", .nums(scores)), ("ranking", .array(result.ranking.map { .int($0) })),
        ]
        if method == .integratedGradients, let base = result.baselineValue, let gap = result.completenessGap {
            let baseText: String
            let baseJSON: JSONOut
            switch baseline {
            case .token(let t):
                baseText = "the embedding of \(quoted(piece(t)))"
                baseJSON = .int(t)
            case .zero:
                baseText = "the zero embedding"
                baseJSON = .string("zero")
            }
            let sum = scores.reduce(0, +)
            let format = NumberFormat.fixed(4)
            let path = "; \(steps) midpoint steps from \(baseText) (metric there \(format.format(base)))"
            let completeness = "; completeness: Σ scores = \(format.format(sum)) vs change \(format.format(result.value - base))"
            let gapText = ", gap \(NumberFormat.fixed(1).format(100 * gap))%"
            let warning = gap > 0.1
                ? " — the path is not resolved at this many steps (the first RMSNorm makes it steep near the zero embedding); read the ranking, not the sizes"
                : ""
            caption += path + completeness + gapText + warning
            extra.append(("steps", .int(steps)))
            extra.append(("baseline", baseJSON))
            extra.append(("baseline_value", .num(base)))
            extra.append(("score_sum", .num(sum)))
            extra.append(("completeness_gap", .num(gap)))
        }
        let table = Table(title: "Token importance (\(method.rawValue)) for \(metricName)",
                          columns: [.init("pos", alignment: .right), .init("token"), .init(label, alignment: .right),
                                    .init("rank", alignment: .right)],
                          rows: rows, caption: caption, kind: "attribution_table")
        var stripBundle = strip.mimeBundle
        stripBundle.json = appending(strip.json, extra)
        stripBundle.data[MimeBundle.plain] = strip.plainText + "\n" + caption
        let top = result.ranking.first.map { visibleToken(prompt.tokens[$0]) } ?? ""
        return VerbResults.noting(VerbResults.result("Attribution", "\(method.rawValue) attribution for \(quoted(answerText)); top token \(top)",
                                    [stripBundle, table.mimeBundle]), notes)
    }
}
