import ArgumentParser
import Foundation
import PeriscopeKernel

/// `periscope lexicon`: the words of the language as JSON (verbs, keywords, value words), read from
/// the command table. The syntax highlighter's word lists are generated from it.
struct LexiconSubcommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lexicon",
        abstract: "Print the verbs, keywords and value words of the language as JSON.",
        shouldDisplay: false)

    func run() {
        let table = CommandTable.standard
        var keywords = Set<String>(), values = Set<String>()
        for spec in table.commands {
            for parameter in spec.positionals + spec.keywords {
                values.formUnion(parameter.kind.words)
            }
            keywords.formUnion(spec.keywords.map(\.name))
        }
        let lexicon = ["verbs": table.verbNames, "keywords": keywords.sorted(), "values": values.sorted()]
        // Word lists of plain strings always serialise.
        let data = (try? JSONSerialization.data(withJSONObject: lexicon, options: [.sortedKeys])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }
}
