import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `project [P1, P2, …] layer L [labels [..]]`: PCA of the prompts' last-position states.
enum ProjectCommand {
    static let spec = CommandSpec(
        name: "project",
        group: .analysis,
        synopsis: "project [P1, P2, …] layer L [labels [..]]",
        description: "Principal component analysis of the prompts' `resid_post` at block L (last token of each), drawn as a 2-D scatter of the first two components. `labels` gives one label per prompt (points with equal labels share a colour); otherwise each point is labelled by its prompt. The data carries the projections, the explained variance and the components.",
        positionals: [Parameter("P", .prompts, required: true, summary: "the prompts (two or more)")],
        keywords: [
            Parameter("layer", .int, required: true, summary: "the block whose resid_post is read"),
            Parameter("labels", .value, summary: "one label per prompt"),
        ],
        example: "project [\"cat\", \"dog\", \"car\", \"bus\"] layer 10 labels [\"animal\", \"animal\", \"vehicle\", \"vehicle\"]",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            let prompts = try VerbArguments.prompts(arguments, "P", session: context.session, model: model)
            guard prompts.count >= 3 else {
                throw CommandError.tooFewItems(parameter: "P", verb: "project", count: prompts.count, needed: 3, items: "prompts", range: arguments.range(of: "P"))
            }
            guard let layer = try VerbArguments.layer(arguments, "layer", model: model) else { return nil }
            var groups: [String]?
            if let value = arguments.value("labels") {
                guard case .list(let items) = value, items.count == prompts.count else {
                    let labelCount: Int
                    if case .list(let items) = value { labelCount = items.count } else { labelCount = 1 }
                    throw CommandError.countMismatch(parameter: "labels", count: labelCount, expected: prompts.count, item: "label", per: "prompt", range: arguments.range(of: "labels"))
                }
                groups = items.map { item in
                    if case .string(let s) = item { return s }
                    return item.sourceText
                }
            }
            let (pca, notes) = try CommandError.catching(at: arguments.headRange) { () -> (PCAResult, [String]) in
                let profile = try ResultNotes.profile(model)
                let reading = try ResidualReader.read(model: model.model, prompts: prompts.map(\.ids), layers: [layer],
                                                      reduction: .last, profile: profile, context: context.task)
                let notes = ResultNotes.massiveReadings(reading.massive, prompts: prompts, reduction: .last, profile: profile,
                                                        model: model, what: "the principal components (their coordinates are the sink's scale, not the prompts' differences)")
                return (try PCA.fit(reading.states[0], components: 2), notes)
            }
            let short = prompts.map { $0.text.count > 28 ? String($0.text.prefix(25)) + "…" : $0.text }
            let points = pca.projections.enumerated().map { i, p in
                ScatterPlot.Point(x: p[0], y: p.count > 1 ? p[1] : 0, label: short[i], group: groups?[i])
            }
            let ratio = pca.explainedVarianceRatio.map { NumberFormat.percent(1).format($0) }
            let plot = ScatterPlot(title: "PCA of resid_post at layer \(layer) (last token)",
                                   xLabel: "PC1 (\(ratio.first ?? "")) ", yLabel: "PC2 (\(ratio.count > 1 ? ratio[1] : ""))",
                                   points: points, kind: "projection")
            var bundle = plot.mimeBundle
            bundle.json = appending(plot.json, [
                ("layer", .int(layer)), ("prompts", .strings(prompts.map(\.text))),
                ("labels", groups.map { .strings($0) } ?? .null),
                ("projections", .matrix(pca.projections)),
                ("explained_variance", .nums(pca.explainedVariance)),
                ("explained_variance_ratio", .nums(pca.explainedVarianceRatio)),
                ("components", .matrix(pca.components)),
            ])
            return .result(RenderedResult(typeName: "ScatterPlot", summary: "PCA of \(prompts.count) prompts at layer \(layer)",
                                          bundle: bundle.noting(notes)))
        })
}
