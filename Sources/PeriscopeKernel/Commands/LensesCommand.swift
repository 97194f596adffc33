import Foundation
import Interpretability
import Rendering
import Transformer

/// `lenses [TEXTS] [layers R]`: logit lens, tuned lens and identity Patchscope against the
/// model's own next token, layer by layer.
enum LensesCommand {
    static let spec = CommandSpec(
        name: "lenses",
        group: .lenses,
        synopsis: "lenses [TEXTS] [layers R]",
        description: "How early each read-out agrees with the model's own next token, as in the Patchscopes paper's §4.1: at every position of every text and every selected layer, the `resid_post` state is read three ways — the logit lens (final norm and unembedding), the tuned lens (its translator first; fitted once per model file, see `lens … tuned`) and the identity Patchscope (the state written into \"cat -> cat; 1135 -> 1135; hello -> hello; ?\" at the \"?\", the last token, at the same layer; the model's next token there is the read-out) — and each is scored by precision@1: the share of positions where it names the token the model itself predicts there. TEXTS is a list of texts or a Dataset (default: every eighth sentence of the built-in text sample, 39 sentences; the whole sample is ~4,700 positions × 30 layers × 3 read-outs, minutes of unembedding). Shows a line chart (one line per method) and a table. Each text runs once; each identity read-out resumes a single row from its layer, many in one batch. Interrupt stops it between batches.",
        positionals: [Parameter("TEXTS", .value, summary: "a list of texts or a Dataset (default: 39 sentences of the built-in text sample)")],
        keywords: [Parameter("layers", .layers, summary: "which layers (default all)")],
        example: "lenses [\"The Eiffel Tower is in the city of Paris\", \"Water boils at one hundred degrees\"] layers 0..29",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            let layers = try VerbArguments.layers(arguments, model: model)
            let texts: FitTexts = arguments.has("TEXTS") ? try FitTexts.from(arguments, "TEXTS") : .sampleSentences
            let ids = texts.texts.map { model.tokenizer.encode($0).map(Int.init) }
            let result = try CommandError.catching(at: arguments.headRange) {
                let lens = try context.session.tunedLenses.lens(for: model, task: context.task.stage(0, of: 4, label: "tuned lens"))
                let identity = try PatchscopeTarget.identity.tokenize(with: model.tokenizer)
                return try Lenses.precision(model: model.model, texts: ids, layers: layers, tuned: lens,
                                            identity: (identity.ids, identity.placeholderPosition ?? identity.ids.count - 1),
                                            context: readOuts(context.task))
            }
            return render(result, texts: texts, model: model)
        })

    /// Progress of the read-outs as the last three quarters of the bar (the first is the tuned lens).
    static func readOuts(_ task: TaskContext) -> TaskContext {
        TaskContext(isCancelled: { task.isCancelled }, progress: { fraction, label in task.report(0.25 + 0.75 * fraction, label) })
    }

    static func render(_ result: LensesResult, texts: FitTexts, model: LoadedModel) -> Value {
        let xs = result.layers.map(Double.init)
        let series = zip(result.methods, result.precision).map { LineChart.Series(name: $0.rawValue, x: xs, y: $1) }
        let title = "Precision@1 against the model's own next token — \(model.name), \(texts.label) (\(result.positions) positions)"
        let chart = LineChart(title: title, xLabel: "layer", yLabel: "precision@1", series: series, yRange: .fixed(0, 1),
                              valueFormat: .fixed(3), kind: "lenses_chart")
        var columns: [Table.Column] = [.init("layer", alignment: .right)]
        columns += result.methods.map { Table.Column($0.rawValue, alignment: .right) }
        let rows: [[Table.Cell]] = result.layers.indices.map { i in
            [.number(Double(result.layers[i]), .integer)] + result.precision.map { .number($0[i], .fixed(3), intensity: $0[i]) }
        }
        let firstAbove = { (m: Int) -> String in
            guard let i = result.precision[m].firstIndex(where: { $0 >= 0.5 }) else { return "never reaches 0.5" }
            return "reaches 0.5 at layer \(result.layers[i])"
        }
        let caption = result.methods.indices.map { "\(result.methods[$0].rawValue) \(firstAbove($0))" }.joined(separator: "; ")
        let table = Table(title: title, columns: columns, rows: rows, caption: caption, kind: "lenses")
        var bundle = MimeBundle.combining([chart.mimeBundle, table.mimeBundle])
        bundle.json = JSONOut.object([
            ("kind", .string("group")),
            ("items", .array([chart.json, table.json])),
            ("analysis", .string("lenses")),
            ("layers", .array(result.layers.map { .int($0) })),
            ("methods", .strings(result.methods.map(\.rawValue))),
            ("precision", .array(result.precision.map { .nums($0) })),
            ("positions", .int(result.positions)),
            ("texts", .int(result.texts)),
            ("model", .string(model.name)),
        ])
        return .result(RenderedResult(typeName: "Lenses", summary: "lenses over \(result.texts) texts, \(result.layers.count) layers",
                                      bundle: bundle))
    }
}
