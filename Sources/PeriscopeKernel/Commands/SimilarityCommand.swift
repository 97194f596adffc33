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
        description: "Cosine similarity between every pair of vectors (from `direction`), as a heatmap from −1 to 1 with the value in each cell. Vectors are labelled by their variable names.",
        positionals: [Parameter("vectors", .value, required: true, summary: "a list of Vectors")],
        example: "similarity [love, joy, anger]",
        run: { arguments, context in
            guard let value = arguments.value("vectors") else { return nil }
            let range = arguments.range(of: "vectors")
            guard case .list(let items) = value, items.count >= 2 else {
                throw CommandError.failed("`similarity` compares two or more vectors; give a list such as [v1, v2].", range: range)
            }
            let vectors = try items.map { item -> VectorValue in
                guard case .object(let v as VectorValue) = item else {
                    throw CommandError.failed("`similarity` compares Vectors (made by `direction`), but the list holds \(withArticle(item.typeName)).", range: range)
                }
                return v
            }
            let names = variableNames(context.statement, count: vectors.count) ?? vectors.map(\.vector.label)
            let matrix = try CommandError.catching(at: range) { try Similarity.matrix(vectors.map(\.vector.values)) }
            let heatmap = Heatmap(title: "Cosine similarity", xLabel: "vector", yLabel: "vector", rowLabels: names,
                                  columnLabels: names, values: matrix, scale: .diverging, range: .fixed(-1, 1),
                                  valueLabel: "cosine", valueFormat: .fixed(2), showValues: true, kind: "similarity")
            var bundle = heatmap.mimeBundle
            bundle.data[MimeBundle.periscopeJSON] = appending(heatmap.json, [
                ("labels", .strings(names)), ("layers", .array(vectors.map { .int($0.vector.layer) })),
            ]).serialized()
            return .result(RenderedResult(typeName: "Heatmap", summary: "cosine similarity of \(vectors.count) vectors", bundle: bundle))
        })

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
