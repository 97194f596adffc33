import Foundation

/// `load "name-or-path"`: loads a GGUF model (or reuses the resident copy) and makes it current.
enum LoadCommand {
    static let spec = CommandSpec(
        name: "load",
        group: .models,
        synopsis: "load \"name-or-path\"",
        description: "Loads a model and makes it the current one; shows its model card (architecture, sizes, parameters, quantisation, memory, load time). `\"smollm2\"` names the bundled default, SmolLM2-135M-Instruct, kept in $PERISCOPE_HOME/models (default ~/.cache/periscope/models; `make model` fetches it); any other text is the path of a GGUF file. Loading a file that is already resident reuses it.",
        positionals: [Parameter("model", .string, required: true, summary: "a known model name (`smollm2`) or a .gguf path",
                                completions: { _, _ in ModelCatalog.entries.map { quoted($0.name) } })],
        example: "m = load \"smollm2\"",
        run: { arguments, context in
            let request = arguments.string("model") ?? ""
            context.task.report(0, "loading \(request)")
            let (model, reused) = try context.session.models.load(request, range: arguments.range(of: "model"))
            return .object(ModelValue(model, reused: reused))
        })
}
