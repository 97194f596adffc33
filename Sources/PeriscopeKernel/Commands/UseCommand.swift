import PeriscopeLanguage

/// `use m`: makes a resident model the current one.
enum UseCommand {
    static let spec = CommandSpec(
        name: "use",
        group: .models,
        synopsis: "use m",
        description: "Makes a loaded model the current one, used by every later command. `m` is a Model variable or the name `models` lists (e.g. `use \"smollm2\"`).",
        positionals: [Parameter("m", .value, required: true, summary: "a Model variable or a loaded model's name",
                                completions: { session, _ in session.models.models.map { quoted($0.name) } })],
        example: "use m",
        run: { arguments, context in
            let range = arguments.range(of: "m")
            let store = context.session.models
            let chosen: LoadedModel
            let value = arguments.value("m")
            if let model = value?.loadedModel {
                chosen = model
            } else if case .string(let name)? = value {
                guard let found = store.model(named: name) ?? store.model(atPath: ModelCatalog.canonicalPath(name)) else {
                    let loaded = store.models.map(\.name)
                    let variables = context.session.modelVariableNames
                    throw CommandError.unknownModel(name, suggestions: suggestions(for: name, among: loaded + variables), loaded: loaded,
                                                    variables: variables, range: range)
                }
                chosen = found
            } else {
                throw CommandError.typeMismatch(parameter: "m", verb: "use", expected: "a Model or a loaded model's name",
                                                given: value.map { withArticle($0.typeName) } ?? "nothing", range: range)
            }
            store.use(chosen)
            context.write("current model: \(chosen.name)\n")
            return nil
        })
}
