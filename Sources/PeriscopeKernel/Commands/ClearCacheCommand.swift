/// `clear cache [p]`: drops cached activations, of one prompt or all.
enum ClearCacheCommand {
    static let spec = CommandSpec(
        name: "clear",
        group: .prompts,
        synopsis: "clear cache [p]",
        description: "Drops cached activations, of one prompt or all. With `p`, only that prompt's (for the current model). Models stay loaded.",
        positionals: [
            Parameter("what", .name, required: true, summary: "the word `cache`", completions: { _, _ in ["cache"] }),
            Parameter("p", .prompt, summary: "the prompt whose activations to drop"),
        ],
        example: "clear cache \"The Eiffel Tower is in\"",
        run: { arguments, context in
            let what = arguments.word("what") ?? arguments.value("what")?.sourceText ?? ""
            guard what == "cache" else {
                throw CommandError.notClearable(what, range: arguments.range(of: "what"))
            }
            let store = context.session.activations
            if arguments.has("p") {
                let model = try context.session.currentModel(range: arguments.range(of: "p"))
                guard let prompt = try arguments.prompt("p", session: context.session, model: model) else { return nil }
                if let removed = store.remove(ActivationKey(modelPath: model.path, tokens: prompt.ids)) {
                    context.write("cleared the cached activations of \(prompt.summary) (\(formatBytes(removed.byteCount))).\n")
                } else {
                    context.write("nothing cached for \(prompt.summary); `cache` lists what is.\n")
                }
            } else {
                let removed = store.removeAll()
                let bytes = removed.reduce(0) { $0 + $1.byteCount }
                context.write("cleared \(removed.count) cached prompt\(removed.count == 1 ? "" : "s") (\(formatBytes(bytes))).\n")
            }
            return nil
        })
}
