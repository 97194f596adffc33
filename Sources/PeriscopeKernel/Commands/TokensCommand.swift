import Rendering

/// `tokens p`: the prompt's tokens, one row each.
enum TokensCommand {
    static let spec = CommandSpec(
        name: "tokens",
        group: .prompts,
        synopsis: "tokens p",
        description: "Shows a prompt's tokens: position, id and text. Whitespace is made visible (space ·, newline ↵, tab ⇥). The data carries `ids` and `tokens` arrays.",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt")],
        example: "tokens \"The Eiffel Tower is in\"",
        run: { arguments, context in
            guard let prompt = try arguments.prompt("p", session: context.session) else { return nil }
            let rows: [[Table.Cell]] = prompt.ids.indices.map { i in
                [.number(Double(i), .integer), .number(Double(prompt.ids[i]), .integer), .token(prompt.tokens[i])]
            }
            let table = Table(title: "\(prompt.ids.count) tokens" + (prompt.chat ? " (chat template)" : "") + " — \(prompt.modelName)",
                              columns: [.init("position", alignment: .right), .init("id", alignment: .right), .init("token")],
                              rows: rows, kind: "tokens")
            var bundle = table.mimeBundle
            bundle.json = appending(table.json, [
                ("ids", .array(prompt.ids.map { .int($0) })), ("tokens", .strings(prompt.tokens)),
                ("text", .string(prompt.text)), ("chat", .bool(prompt.chat)), ("model", .string(prompt.modelName)),
            ])
            return .result(RenderedResult(typeName: "Table", summary: "tokens of \(prompt.summary)", bundle: bundle))
        })
}
