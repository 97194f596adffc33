import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering

/// `similarity [v1, v2, …]`: the cosine-similarity heatmap of vectors.
enum SimilarityCommand {
    static let spec = CommandSpec(
        name: "similarity",
        group: .analysis,
        synopsis: "similarity [v1, v2, …]",
        description: "Cosine similarity between every pair of vectors (Vectors from `direction`, or Gradients from `gradient` of one shape, each read as one flat vector), as a heatmap from −1 to 1 with the value in each cell. A two-label Probe counts as its direction. Vectors are labelled by their variable names.",
        positionals: [Parameter("vectors", .value, required: true, summary: "a list of Vectors or Gradients")],
        example: "similarity [love, joy, anger]",
        run: { arguments, context in
            guard let value = arguments.value("vectors") else { return nil }
            let range = arguments.range(of: "vectors")
            guard case .list(let items) = value, items.count >= 2 else {
                var count = 1
                if case .list(let items) = value { count = items.count }
                throw CommandError.tooFewItems(parameter: "vectors", verb: "similarity", count: count, needed: 2, items: "vectors", range: range)
            }
            // Vectors (from `direction`, or a probe's direction) or Gradients of one shape, each
            // compared as one flat vector.
            let entries = try items.map { item -> (label: String, values: [Float], layer: Int?, sinkNote: String?) in
                if case .object(let g as GradientValue) = item { return (g.point.name, g.gradient.data, g.point.layer, nil) }
                guard let v = try VerbArguments.vector(of: item, range: range) else {
                    throw CommandError.wrongItem(parameter: "vectors", expected: "Vectors (made by `direction`, or two-label Probes) or Gradients (made by `gradient`)",
                                                 given: withArticle(item.typeName), range: range)
                }
                return (v.vector.label, v.vector.values, v.vector.layer, v.sinkNote)
            }
            let names = variableNames(context.statement, count: entries.count) ?? entries.map(\.label)
            let matrix = try CommandError.catching(at: range) { try Similarity.matrix(entries.map(\.values)) }
            let heatmap = Heatmap(title: "Cosine similarity", xLabel: "vector", yLabel: "vector", rowLabels: names,
                                  columnLabels: names, values: matrix, scale: .diverging, range: .fixed(-1, 1),
                                  valueLabel: "cosine", valueFormat: .fixed(2), showValues: true, kind: "similarity")
            var bundle = heatmap.mimeBundle
            bundle.json = appending(heatmap.json, [
                ("labels", .strings(names)), ("layers", .array(entries.map { $0.layer.map { .int($0) } ?? .null })),
            ])
            return .result(RenderedResult(typeName: "Heatmap", summary: "cosine similarity of \(entries.count) vectors",
                                          bundle: bundle.noting(notes(entries.map(\.sinkNote), names: names))))
        })

    /// A note when some vectors were made from attention-sink states: their cosines compare the
    /// sink's near-constant state more than the concepts the prompts name.
    static func notes(_ sinkNotes: [String?], names: [String]) -> [String] {
        var seen = Set<String>()
        let sunk = zip(names, sinkNotes).compactMap { name, note in note.map { (name, $0) } }.filter { seen.insert($0.0).inserted }
        guard let first = sunk.first else { return [] }
        let list = sunk.map(\.0).joined(separator: ", ")
        return ["\(list) \(sunk.count == 1 ? "was" : "were") \(first.1)\(sunk.count > 1 ? " (and alike)" : ""): "
                + "a cosine with \(sunk.count == 1 ? "it" : "them") compares attention-sink states, which are nearly the same "
                + "whatever the prompt, more than the concepts. Make the vectors from prompts with a short context before the word."]
    }

    /// The names written in the list (`[love, joy]`), when every element is a bare variable.
    static func variableNames(_ statement: Statement, count: Int) -> [String]? {
        guard case .command(_, _, let expressions) = statement.body, let first = expressions.first,
              case .list(let elements) = first.kind, elements.count == count else { return nil }
        var names: [String] = []
        for e in elements {
            guard case .identifier(let name) = e.kind else { return nil }
            names.append(name)
        }
        return names
    }
}
