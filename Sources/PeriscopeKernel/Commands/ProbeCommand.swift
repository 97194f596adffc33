import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `probe d [layers R] [position last|mean] [split F] [seed S] [control]`: a logistic probe per layer.
enum ProbeCommand {
    static let spec = CommandSpec(
        name: "probe",
        group: .analysis,
        synopsis: "probe d [layers R] [position last|mean] [split F] [seed S] [control]",
        description: "Trains an L2-regularised logistic-regression probe (multi-class, L-BFGS) on each layer's `resid_post` of the data set's texts (last token, or the mean over tokens with `position mean`) and scores it on held-out rows. `split` is the share of rows used for training (default 0.7, stratified, shuffled with `seed`). `control` also trains on shuffled labels (a control task: it should stay near chance). Shows a table and a line chart of held-out accuracy per layer.",
        positionals: [Parameter("d", .typed("Dataset"), required: true, summary: "the data set (from `dataset`)")],
        keywords: [
            Parameter("layers", .layers, summary: "the layers to probe (default all)"),
            Parameter("position", .choice(["last", "mean"], allowsInt: false), summary: "read the last token (default) or the mean over tokens"),
            Parameter("split", .float, summary: "the share of rows used for training (default 0.7)"),
            Parameter("seed", .int, summary: "the shuffling seed (default 0)"),
            Parameter("control", .flag, summary: "also probe shuffled labels"),
        ],
        example: "probe d layers 0..29 split 0.7 seed 1",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard case .object(let data as DatasetValue)? = arguments.value("d") else { return nil }
            let dataset = data.dataset
            let layers = try VerbArguments.layers(arguments, model: model)
            let reduction: PositionReduction = arguments.word("position") == "mean" ? .mean : .last
            let split = arguments.float("split") ?? 0.7
            guard split > 0, split < 1 else {
                throw CommandError.failed("`split` is the share of rows used for training; give a number between 0 and 1, e.g. 0.7.", range: arguments.range(of: "split"))
            }
            let seed = try VerbArguments.seed(arguments)
            let prompts = try dataset.texts.map { try PromptValue.make(text: $0, model: model, range: arguments.range(of: "d")).ids }
            let labels = dataset.labelIndices
            let control = arguments.flag("control")

            // The real probe takes most of the bar; the control, when asked for, the rest.
            let task = context.task
            let share = control ? 0.6 : 1.0
            let first = TaskContext(isCancelled: { task.isCancelled }, progress: { f, l in task.report(share * f, l) })
            let report = try CommandError.catching(at: arguments.headRange) {
                try ProbeSweep.run(model: model.model, prompts: prompts, labels: labels, classCount: dataset.classes.count,
                                   layers: layers, reduction: reduction, trainFraction: split, seed: seed, context: first)
            }
            var controlReport: ProbeReport?
            if control {
                var rng = SplitMix64(seed: seed &+ 0x5EED)
                let shuffled = labels.shuffled(using: &rng)
                let second = TaskContext(isCancelled: { task.isCancelled }, progress: { f, l in task.report(0.6 + 0.4 * f, "control: " + l) })
                controlReport = try CommandError.catching(at: arguments.headRange) {
                    try ProbeSweep.run(model: model.model, prompts: prompts, labels: shuffled, classCount: dataset.classes.count,
                                       layers: layers, reduction: reduction, trainFraction: split, seed: seed, context: second)
                }
            }

            var columns: [Table.Column] = [.init("layer", alignment: .right), .init("train acc", alignment: .right),
                                           .init("held-out acc", alignment: .right)]
            if controlReport != nil { columns.append(.init("shuffled labels", alignment: .right)) }
            let rows: [[Table.Cell]] = report.layers.enumerated().map { k, s in
                var row: [Table.Cell] = [.number(Double(s.layer), .integer), .number(s.trainAccuracy, .fixed(3)),
                                         .number(s.testAccuracy, .fixed(3), intensity: s.testAccuracy)]
                if let c = controlReport { row.append(.number(c.layers[k].testAccuracy, .fixed(3))) }
                return row
            }
            let bestText = report.best.map { "best held-out accuracy \(NumberFormat.fixed(3).format($0.testAccuracy)) at layer \($0.layer)" } ?? ""
            let table = Table(title: "Probe on \(dataset.source): \(dataset.classes.count) labels, \(report.trainCount) train / \(report.testCount) held-out rows",
                              columns: columns, rows: rows,
                              caption: "\(bestText); majority-class baseline \(NumberFormat.fixed(3).format(report.majorityBaseline)); \(reduction == .last ? "last token" : "mean over tokens"), split \(formatFloat(split)), seed \(seed)",
                              kind: "probe")
            let xs = report.layers.map { Double($0.layer) }
            var series = [LineChart.Series(name: "held-out", x: xs, y: report.layers.map(\.testAccuracy)),
                          LineChart.Series(name: "train", x: xs, y: report.layers.map(\.trainAccuracy))]
            if let c = controlReport { series.append(LineChart.Series(name: "shuffled labels", x: xs, y: c.layers.map(\.testAccuracy))) }
            let chart = LineChart(title: "Probe accuracy by layer — \(dataset.source)", xLabel: "layer", yLabel: "accuracy",
                                  series: series, reference: .init(y: report.majorityBaseline, label: "majority class"),
                                  yRange: .fixed(0, 1), valueFormat: .fixed(3), kind: "probe_chart")
            var tableBundle = table.mimeBundle
            tableBundle.data[MimeBundle.periscopeJSON] = appending(table.json, [
                ("layers", .array(report.layers.map { .int($0.layer) })),
                ("train_accuracy", .nums(report.layers.map(\.trainAccuracy))),
                ("test_accuracy", .nums(report.layers.map(\.testAccuracy))),
                ("control_accuracy", controlReport.map { .nums($0.layers.map(\.testAccuracy)) } ?? .null),
                ("majority_baseline", .num(report.majorityBaseline)),
                ("best_layer", report.best.map { .int($0.layer) } ?? .null),
                ("train_count", .int(report.trainCount)), ("test_count", .int(report.testCount)),
                ("classes", .strings(dataset.classes)),
            ]).serialized()
            return VerbResults.result("Probe", "probe of \(dataset.source) over \(layers.count) layers; \(bestText)",
                                        [tableBundle, chart.mimeBundle])
        })
}
