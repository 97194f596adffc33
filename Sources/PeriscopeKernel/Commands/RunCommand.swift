import Foundation
import Rendering
import Transformer

/// `run p [top K]`: a forward pass; the top-K next tokens; the activations stay cached.
enum RunCommand {
    static let spec = CommandSpec(
        name: "run",
        group: .prompts,
        synopsis: "run p [top K]",
        description: "Runs a prompt and shows the K most likely next tokens. Each row: token, id, probability, logit; K defaults to 10. The prompt's activations (residual stream before, between and after each block, attention and MLP outputs, attention patterns, embeddings, final norm) are cached for later commands; `cache` lists them. The data also carries the last position's `ln_final.hook_normalized` vector.",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt")],
        keywords: [Parameter("top", .int, summary: "how many next tokens to show (default 10)")],
        example: "run \"The Eiffel Tower is in the city of\" top 5",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let prompt = try arguments.prompt("p", session: context.session, model: model) else { return nil }
            let k = arguments.int("top") ?? 10
            let vocab = model.config.vocabularySize
            guard k >= 1, k <= vocab else {
                throw CommandError.outOfRange(what: "top", value: k, valid: "1..\(vocab)", range: arguments.range(of: "top"))
            }
            var evicted: [CachedRun] = []
            let start = Date()
            let run = try context.session.cachedRun(prompt, model: model, context: context.task, evicted: &evicted)
            let seconds = Date().timeIntervalSince(start)
            let top = Softmax.top(run.lastLogits, k: k, tokenizer: model.tokenizer)

            let rows: [[Table.Cell]] = top.enumerated().map { rank, entry in
                [.number(Double(rank + 1), .integer), .token(entry.token),
                 .number(Double(entry.id), .integer),
                 .number(Double(entry.probability), .fixed(4), intensity: Double(entry.probability)),
                 .number(Double(entry.logit), .fixed(3))]
            }
            let kept = run.key.tokens == prompt.ids && context.session.activations.peek(run.key) === run
            var caption = "next token after \(prompt.ids.count) prompt tokens; "
            caption += kept
                ? "activations cached (\(run.activations.count) hook points, \(formatBytes(run.byteCount)))"
                : "activations NOT cached: they would exceed the cache budget of \(formatBytes(context.session.activations.budgetBytes)) (`cache budget MiB` raises it)"
            let pushedOut = evicted.filter { $0 !== run }
            if !pushedOut.isEmpty {
                caption += "; evicted \(pushedOut.count) least recently used prompt\(pushedOut.count == 1 ? "" : "s") to stay within the budget"
            }
            let table = Table(title: "Top \(k) next tokens — \(prompt.summary)",
                              columns: [.init("#", alignment: .right), .init("token"), .init("id", alignment: .right),
                                        .init("prob", alignment: .right), .init("logit", alignment: .right)],
                              rows: rows, caption: caption, kind: "top_tokens")
            let lastIndex = prompt.ids.count - 1
            let hidden = run[.lnFinalNormalized].map { t in Array(t.data[(lastIndex * t.stride0)..<((lastIndex + 1) * t.stride0)]) } ?? []
            var bundle = table.mimeBundle
            bundle.json = appending(table.json, [
                ("prompt", VerbResults.promptJSON(prompt)),
                ("model", .string(model.name)),
                ("top", .object([
                    ("ids", .array(top.map { .int($0.id) })),
                    ("tokens", .strings(top.map(\.token))),
                    ("probs", .nums(top.map { Double($0.probability) })),
                    ("logits", .nums(top.map { Double($0.logit) })),
                ])),
                ("final_hidden", .object([("hook", .string(HookPoint.lnFinalNormalized.name)), ("position", .int(lastIndex)),
                                          ("values", .nums(hidden.map(Double.init)))])),
                ("cached", .object([("kept", .bool(kept)), ("hook_points", .int(run.activations.count)),
                                    ("bytes", .int(run.byteCount)), ("evicted", .int(pushedOut.count))])),
                ("seconds", .num(seconds)),
            ])
            return .result(RenderedResult(typeName: "Table", summary: "top \(k) next tokens of \(prompt.summary)", bundle: bundle))
        })
}
