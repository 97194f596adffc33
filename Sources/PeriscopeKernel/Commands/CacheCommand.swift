import Rendering

/// `cache [budget MiB]`: what is cached, per prompt, with memory; sets the cache budget.
enum CacheCommand {
    static let spec = CommandSpec(
        name: "cache",
        group: .prompts,
        synopsis: "cache [budget MiB]",
        description: "Lists the cached activations per prompt, with memory and the budget. One row per prompt (model, prompt, tokens, hook points, memory), most recently used first, then the totals, the memory of the loaded models and the cache budget. `budget MiB` sets the budget in mebibytes (default 2048); when the cache grows past it, the least recently used prompts are dropped. `clear cache` empties it.",
        keywords: [Parameter("budget", .int, summary: "the cache budget in MiB (default 2048)")],
        example: "cache budget 4096",
        run: { arguments, context in
            let store = context.session.activations
            var note = ""
            if let mib = arguments.int("budget") {
                guard mib >= 0, mib <= 1 << 30 else {
                    throw CommandError.outOfRange(what: "budget", value: mib, valid: "0 or more MiB", range: arguments.range(of: "budget"))
                }
                let evicted = store.setBudget(mib << 20)
                note = "budget set to \(formatBytes(mib << 20))"
                if !evicted.isEmpty { note += "; evicted \(evicted.count) least recently used prompt\(evicted.count == 1 ? "" : "s")" }
            }
            let models = context.session.models.models
            let names = Dictionary(models.map { ($0.path, $0.name) }, uniquingKeysWith: { a, _ in a })
            let runs = store.runs
            var rows: [[Table.Cell]] = runs.map { run in
                let text = run.prompt.text
                let shown = text.count > 40 ? String(text.prefix(39)) + "…" : text
                return [.text(names[run.key.modelPath] ?? run.prompt.modelName), .text(shown + (run.prompt.chat ? " (chat)" : "")),
                        .number(Double(run.key.tokens.count), .integer), .number(Double(run.activations.count), .integer),
                        .text(formatBytes(run.byteCount))]
            }
            let total = store.totalBytes
            let modelBytes = models.reduce(0) { $0 + $1.memoryBytes }
            rows.append([.text("total"), .text("\(runs.count) prompt\(runs.count == 1 ? "" : "s")"),
                         .number(Double(runs.reduce(0) { $0 + $1.key.tokens.count }), .integer), .empty, .text(formatBytes(total))])
            var caption = "cache \(formatBytes(total)) of a \(formatBytes(store.budgetBytes)) budget; models \(formatBytes(modelBytes)) (\(models.count) loaded)"
            if !note.isEmpty { caption = note + "; " + caption }
            let table = Table(title: "Activation cache",
                              columns: [.init("model"), .init("prompt"), .init("tokens", alignment: .right),
                                        .init("hook points", alignment: .right), .init("memory", alignment: .right)],
                              rows: rows, caption: caption, kind: "cache")
            var bundle = table.mimeBundle
            bundle.json = appending(table.json, [
                ("entries", .array(runs.map { run in
                    .object([("model", .string(names[run.key.modelPath] ?? run.prompt.modelName)), ("text", .string(run.prompt.text)),
                             ("chat", .bool(run.prompt.chat)), ("tokens", .int(run.key.tokens.count)),
                             ("hook_points", .int(run.activations.count)), ("bytes", .int(run.byteCount))])
                })),
                ("total_bytes", .int(total)), ("budget_bytes", .int(store.budgetBytes)), ("model_bytes", .int(modelBytes)),
            ])
            return .result(RenderedResult(typeName: "Table", summary: "activation cache (\(runs.count) prompts)", bundle: bundle))
        })
}
