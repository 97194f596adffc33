import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `probe d [layers R] [position last|mean] [split F | folds K] [ridge X] [seed S] [control]`: a
/// logistic probe per layer.
enum ProbeCommand {
    static let spec = CommandSpec(
        name: "probe",
        group: .analysis,
        synopsis: "probe d [layers R] [position last|mean] [split F | folds K] [ridge X] [seed S] [control]",
        description: "Trains an L2-regularised logistic-regression probe (multi-class, L-BFGS) on each layer's `resid_post` of the data set's texts (last token, or the mean over tokens with `position mean`) and scores it on held-out rows. `split` is the share of rows used for training (default 0.7, stratified, shuffled with `seed`); `folds K` instead runs stratified K-fold cross-validation and reports the mean and spread of the held-out accuracy. `ridge` is the L2 penalty λ on the mean cross-entropy (default 0.01). `control` also trains on shuffled labels (a control task: it should stay near chance). Shows a table and a line chart of held-out accuracy per layer. The result is also a direction: with two labels, `similarity`, `steer` and `export … to \"x.gguf\"` take its unit weight vector (first label minus second) at the best layer; probe one layer to choose it.",
        positionals: [Parameter("d", .typed("Dataset"), required: true, summary: "the data set (from `dataset`)")],
        keywords: [
            Parameter("layers", .layers, summary: "the layers to probe (default all)"),
            Parameter("position", .choice(["last", "mean"], allowsInt: false), summary: "read the last token (default) or the mean over tokens"),
            Parameter("split", .float, summary: "the share of rows used for training (default 0.7)"),
            Parameter("folds", .int, summary: "K-fold cross-validation instead of one split"),
            Parameter("ridge", .float, summary: "the L2 penalty λ (default 0.01)"),
            Parameter("seed", .int, summary: "the shuffling seed (default 0)"),
            Parameter("control", .flag, summary: "also probe shuffled labels"),
        ],
        example: "probe d layers 0..29 folds 5 seed 1 control",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard case .object(let data as DatasetValue)? = arguments.value("d") else { return nil }
            let dataset = data.dataset
            let layers = try VerbArguments.layers(arguments, model: model)
            let reduction: PositionReduction = arguments.word("position") == "mean" ? .mean : .last
            if arguments.has("split") && arguments.has("folds") {
                throw CommandError.conflictingArguments("`split F` (one held-out share)", "`folds K` (cross-validation)",
                                                        range: arguments.range(of: "folds"))
            }
            let split = arguments.float("split") ?? 0.7
            guard split > 0, split < 1 else {
                throw CommandError.numberOutOfRange(what: "split", value: split, valid: "strictly between 0 and 1 (the share of rows used for training, e.g. 0.7)",
                                                    range: arguments.range(of: "split"))
            }
            let folds = arguments.int("folds")
            if let k = folds, k < 2 || k > dataset.count {
                throw CommandError.outOfRange(what: "folds", value: k, valid: "2..\(dataset.count) (the data set has \(dataset.count) rows)",
                                              range: arguments.range(of: "folds"))
            }
            let ridge = arguments.float("ridge") ?? 1e-2
            guard ridge > 0, ridge.isFinite else {
                throw CommandError.numberOutOfRange(what: "ridge", value: ridge, valid: "a positive number, the L2 penalty λ (e.g. 0.01; larger means simpler probes)",
                                                    range: arguments.range(of: "ridge"))
            }
            let seed = try VerbArguments.seed(arguments)
            let promptValues = try data.prompts(for: model, range: arguments.range(of: "d"))
            let prompts = promptValues.map(\.ids)
            let labels = dataset.labelIndices
            let control = arguments.flag("control")

            // The real probe takes most of the bar; the control, when asked for, the rest.
            let task = context.task
            let share = control ? 0.6 : 1.0
            let first = TaskContext(isCancelled: { task.isCancelled }, progress: { f, l in task.report(share * f, l) })
            let (report, profile) = try CommandError.catching(at: arguments.headRange) {
                let profile = try ResultNotes.profile(model)
                return (try ProbeSweep.run(model: model.model, prompts: prompts, labels: labels, classCount: dataset.classes.count,
                                           layers: layers, reduction: reduction, trainFraction: split, folds: folds, seed: seed,
                                           l2: ridge, profile: profile, context: first), profile)
            }
            var controlReport: ProbeReport?
            if control {
                var rng = SplitMix64(seed: seed &+ 0x5EED)
                let shuffled = labels.shuffled(using: &rng)
                let second = TaskContext(isCancelled: { task.isCancelled }, progress: { f, l in task.report(0.6 + 0.4 * f, "control: " + l) })
                controlReport = try CommandError.catching(at: arguments.headRange) {
                    try ProbeSweep.run(model: model.model, prompts: prompts, labels: shuffled, classCount: dataset.classes.count,
                                       layers: layers, reduction: reduction, trainFraction: split, folds: folds, seed: seed,
                                       l2: ridge, context: second)
                }
            }
            let notes = ResultNotes.massiveReadings(report.massive, prompts: promptValues, reduction: reduction, profile: profile,
                                                    model: model, what: "the features the probe reads")
            let name = VerbArguments.argumentName(context.statement, index: 0) ?? dataset.source
            return .object(ProbeValue(report: report, control: controlReport, dataset: dataset, name: name, reduction: reduction,
                                      split: split, seed: seed, notes: notes, modelName: model.name, modelPath: model.path,
                                      architecture: model.config.architecture,
                                      sinkNote: ResultNotes.vectorNote(report.massive, prompts: promptValues, profile: profile, model: model)))
        })
}

// MARK: - Probe value

/// A probe sweep as the session holds it: its scores, and per layer the probe's weights, so that
/// it can also serve as a direction.
struct ProbeValue: ValueContent {
    var report: ProbeReport
    var control: ProbeReport?
    var dataset: LabelledDataset
    /// The variable the data set was given as (`moods`), else its source.
    var name: String
    var reduction: PositionReduction
    var split: Double
    var seed: UInt64
    var notes: [String]
    var modelName: String
    var modelPath: String
    var architecture: String
    var sinkNote: String?

    var typeName: String { "Probe" }
    var summary: String { "Probe of \(name) over \(report.layers.count) layers; \(bestText)" }

    var bestText: String {
        report.best.map { "best held-out accuracy \(NumberFormat.fixed(3).format($0.testAccuracy)) at layer \($0.layer)" } ?? ""
    }

    var validation: String {
        report.folds.map { "\($0)-fold cross-validation (mean ± sd over folds)" } ?? "split \(formatFloat(split))"
    }

    /// The table and the chart (whose text/plain is a line: the table already lists its numbers).
    var parts: [MimeBundle] {
        let folded = report.folds != nil
        var columns: [Table.Column] = [.init("layer", alignment: .right), .init("train acc", alignment: .right),
                                       .init("held-out acc", alignment: .right)]
        if folded { columns.append(.init("± sd", alignment: .right)) }
        if control != nil { columns.append(.init("shuffled labels", alignment: .right)) }
        let rows: [[Table.Cell]] = report.layers.enumerated().map { k, s in
            var row: [Table.Cell] = [.number(Double(s.layer), .integer), .number(s.trainAccuracy, .fixed(3)),
                                     .number(s.testAccuracy, .fixed(3), intensity: s.testAccuracy)]
            if folded { row.append(.number(s.testAccuracySpread, .fixed(3))) }
            if let c = control { row.append(.number(c.layers[k].testAccuracy, .fixed(3))) }
            return row
        }
        let sizes = folded ? "\(dataset.count) rows in \(report.folds ?? 0) folds" : "\(report.trainCount) train / \(report.testCount) held-out rows"
        let table = Table(title: "Probe on \(name) (\(dataset.source)): \(dataset.classes.count) labels, \(sizes)",
                          columns: columns, rows: rows,
                          caption: "\(bestText); majority-class baseline \(NumberFormat.fixed(3).format(report.majorityBaseline)); \(reduction == .last ? "last token" : "mean over tokens"), \(validation), ridge \(formatFloat(report.l2)), seed \(seed)",
                          kind: "probe")
        let xs = report.layers.map { Double($0.layer) }
        var series = [LineChart.Series(name: "held-out", x: xs, y: report.layers.map(\.testAccuracy)),
                      LineChart.Series(name: "train", x: xs, y: report.layers.map(\.trainAccuracy))]
        if let c = control { series.append(LineChart.Series(name: "shuffled labels", x: xs, y: c.layers.map(\.testAccuracy))) }
        let chart = LineChart(title: "Probe accuracy by layer — \(name)", xLabel: "layer", yLabel: "accuracy",
                              series: series, reference: .init(y: report.majorityBaseline, label: "majority class"),
                              yRange: .fixed(0, 1), valueFormat: .fixed(3), kind: "probe_chart")
        var tableBundle = table.mimeBundle
        tableBundle.json = appending(table.json, [
            ("layers", .array(report.layers.map { .int($0.layer) })),
            ("train_accuracy", .nums(report.layers.map(\.trainAccuracy))),
            ("test_accuracy", .nums(report.layers.map(\.testAccuracy))),
            ("test_accuracy_sd", folded ? .nums(report.layers.map(\.testAccuracySpread)) : .null),
            ("fold_accuracies", folded ? .array(report.layers.map { .nums($0.foldAccuracies) }) : .null),
            ("control_accuracy", control.map { .nums($0.layers.map(\.testAccuracy)) } ?? .null),
            ("majority_baseline", .num(report.majorityBaseline)),
            ("best_layer", report.best.map { .int($0.layer) } ?? .null),
            ("train_count", .int(report.trainCount)), ("test_count", .int(report.testCount)),
            ("folds", report.folds.map { .int($0) } ?? .null), ("ridge", .num(report.l2)),
            ("classes", .strings(dataset.classes)), ("dataset", .string(name)),
        ])
        var chartBundle = chart.mimeBundle
        chartBundle.data[MimeBundle.plain] = "(chart: \(series.map(\.name).joined(separator: ", ")) accuracy by layer, as in the table)"
        return [tableBundle.noting(notes), chartBundle]
    }

    func render() -> MimeBundle { MimeBundle.combining(parts) }

    /// The probe's direction at its best layer (or its only one): the first label's weights minus
    /// the second's, in the residual stream's own units, scaled to unit length.
    func vector(range: SourceRange?) throws -> VectorValue {
        let classes = dataset.classes
        guard classes.count == 2 else {
            throw CommandError.probeNotADirection(labels: classes.count, range: range)
        }
        guard let best = report.best, best.weights.count == 2 else {
            throw CommandError.probeWithoutWeights(range: range)
        }
        var values = zip(best.weights[0], best.weights[1]).map { $0 - $1 }
        let norm = values.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 { values = values.map { $0 / norm } }
        let label = "probe \(name): \(quoted(classes[0])) − \(quoted(classes[1])) @ layer \(best.layer)"
        var v = VectorValue(vector: SteeringVector(values: values, layer: best.layer, label: label), modelName: modelName,
                            modelPath: modelPath, architecture: architecture,
                            positive: dataset.texts.enumerated().filter { dataset.labels[$0.offset] == classes[0] }.map(\.element),
                            negative: dataset.texts.enumerated().filter { dataset.labels[$0.offset] == classes[1] }.map(\.element),
                            reduction: reduction, notes: notes, sinkNote: sinkNote)
        v.source = "probe weights (unit length; held-out accuracy \(NumberFormat.fixed(3).format(best.testAccuracy)))"
        return v
    }
}

extension ProbeValue {
    /// `export probe to …`: `.gguf` writes its direction as a control vector, `.npy` its weight
    /// vectors (`[layers, classes, d_model]`, layers and classes in `file.labels.json`), `.csv`
    /// and `.svg` its table and chart.
    func export(arguments: BoundArguments) throws -> Value {
        let destination = arguments.string("to") ?? ""
        let range = arguments.range(of: "to")
        let path = ModelCatalog.canonicalPath(destination)
        switch (destination as NSString).pathExtension.lowercased() {
        case "gguf":
            return try vector(range: arguments.range(of: "p")).export(arguments: arguments)
        case "npy":
            let d = report.layers.first?.weights.first?.count ?? 0
            let k = dataset.classes.count
            let values = report.layers.flatMap { $0.weights.flatMap { $0 } }
            do {
                try NpyWriter.write(shape: [report.layers.count, k, d], values: values, to: path)
            } catch let error as NpyError {
                throw CommandError.npy(error, range: range)
            }
            let labelsPath = (path as NSString).deletingPathExtension + ".labels.json"
            let labels: JSONOut = .object([("title", .string("probe weights of \(name)")), ("layers", .array(report.layers.map { .int($0.layer) })),
                                           ("classes", .strings(dataset.classes)),
                                           ("units", .string("residual-stream units: W·diag(1/σ) of the standardised probe"))])
            try ResultExport.write(Data(labels.serialized().utf8), to: labelsPath, range: range)
            return ResultExport.card(title: "Exported probe weights", [("probe", name), ("file", path),
                                                                       ("shape", "[\(report.layers.count), \(k), \(d)] float32 (layer, label, d_model)"),
                                                                       ("labels", labelsPath)],
                                     json: [("path", .string(path)), ("labels_path", .string(labelsPath)), ("format", .string("npy")),
                                            ("shape", .array([.int(report.layers.count), .int(k), .int(d)]))],
                                     summary: "probe weights → \(path)")
        default:
            return try ResultExport.export(parts: parts, typeName: typeName, path: path, range: range)
        }
    }
}

extension VerbArguments {
    /// The variable name written as the statement's `index`-th argument (`probe moods …` → "moods").
    static func argumentName(_ statement: Statement, index: Int) -> String? {
        guard case .command(_, _, let expressions) = statement.body, index < expressions.count,
              case .identifier(let name) = expressions[index].kind else { return nil }
        return name
    }
}
