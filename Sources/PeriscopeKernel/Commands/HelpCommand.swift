import PeriscopeLanguage

/// `help [verb]`: the overview of all verbs, or one verb's synopsis, keywords and example.
enum HelpCommand {
    static let spec = CommandSpec(
        name: "help",
        group: .general,
        synopsis: "help [verb]",
        description: "Lists every command by group, or shows one command's synopsis, keywords and an example. `?verb` opens the same page in the pager.",
        positionals: [Parameter("verb", .name, summary: "the command to explain",
                                completions: { _, table in table.verbNames })],
        example: "help lens",
        run: { arguments, context in
            guard let topic = arguments.word("verb") else {
                return .result(RenderedResult(typeName: "Help", summary: "help for all commands",
                                              bundle: context.table.overview()))
            }
            guard let spec = context.table[topic] else {
                throw CommandError.unknownVerb(topic, suggestions: suggestions(for: topic, among: context.table.verbNames),
                                               range: arguments.range(of: "verb"))
            }
            return .result(RenderedResult(typeName: "Help", summary: "help for `\(topic)`",
                                          bundle: context.table.helpPage(for: spec)))
        })
}
