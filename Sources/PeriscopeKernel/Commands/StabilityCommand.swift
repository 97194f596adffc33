import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `stability p [layers R] [noise X] [samples N] [seed S]`: does the answer survive noise?
enum StabilityCommand {
    static let spec = CommandSpec(
        name: "stability",
        group: .analysis,
        synopsis: "stability p [layers R] [noise X] [samples N] [seed S]",
        description: "Adds Gaussian noise to `resid_post` of one layer at a time (standard deviation X times the RMS of the clean residual state at each position, default X = 0.2) in N seeded samples (default 16), and reports the share of samples that keep the clean top-1 next token, with its mean probability. Shows a table and a line chart by layer.",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt")],
        keywords: [
            Parameter("layers", .layers, summary: "the layers to perturb (default all)"),
            Parameter("noise", .float, summary: "noise std as a multiple of each position's RMS (default 0.2)"),
            Parameter("samples", .int, summary: "noisy runs per layer (default 16)"),
            Parameter("seed", .int, summary: "the noise seed (default 0)"),
        ],
        example: "stability \"The capital city of France is\" layers 0..29 noise 0.2 samples 16",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let prompt = try arguments.prompt("p", session: context.session, model: model) else { return nil }
            let layers = try VerbArguments.layers(arguments, model: model)
            let noise = arguments.float("noise") ?? 0.2
            guard noise >= 0, noise.isFinite else {
                throw CommandError.failed("`noise` must be 0 or more (a multiple of the residual stream's RMS).", range: arguments.range(of: "noise"))
            }
            let samples = arguments.int("samples") ?? 16
            guard samples >= 1, samples <= 256 else {
                throw CommandError.outOfRange(what: "samples", value: samples, valid: "1..256", range: arguments.range(of: "samples"))
            }
            let seed = try VerbArguments.seed(arguments)
            let r = try CommandError.catching(at: arguments.headRange) {
                try Stability.measure(model: model.model, prompt: prompt.ids, layers: layers, noise: noise, samples: samples,
                                      seed: seed, context: context.task)
            }
            let answer = model.tokenizer.piece(Int32(r.cleanTop))
            let rows: [[Table.Cell]] = r.layers.map { l in
                [.number(Double(l.layer), .integer), .number(l.kept, .percent(0), intensity: l.kept),
                 .number(l.meanProbability, .fixed(4)), .number(l.std, .fixed(3))]
            }
            let table = Table(title: "Stability of \(quoted(answer)) under noise — \(prompt.summary)",
                              columns: [.init("layer", alignment: .right), .init("kept top-1", alignment: .right),
                                        .init("mean p", alignment: .right), .init("noise std", alignment: .right)],
                              rows: rows,
                              caption: "clean top-1 \(quoted(answer)) with p = \(NumberFormat.fixed(4).format(r.cleanProbability)); \(samples) samples per layer, noise \(formatFloat(noise)) × RMS, seed \(seed)",
                              kind: "stability")
            let xs = r.layers.map { Double($0.layer) }
            let chart = LineChart(title: "Share of noisy runs keeping \(quoted(answer))", xLabel: "layer", yLabel: "kept",
                                  series: [.init(name: "kept top-1", x: xs, y: r.layers.map(\.kept)),
                                           .init(name: "mean p", x: xs, y: r.layers.map(\.meanProbability))],
                                  yRange: .fixed(0, 1), valueFormat: .fixed(2), kind: "stability_chart")
            var bundle = table.mimeBundle
            bundle.data[MimeBundle.periscopeJSON] = appending(table.json, [
                ("answer", .string(answer)), ("answer_id", .int(r.cleanTop)), ("clean_probability", .num(r.cleanProbability)),
                ("layers", .array(r.layers.map { .int($0.layer) })), ("kept", .nums(r.layers.map(\.kept))),
                ("mean_probability", .nums(r.layers.map(\.meanProbability))), ("std", .nums(r.layers.map(\.std))),
                ("samples", .int(samples)), ("noise", .num(noise)), ("seed", .int(Int(seed))),
            ]).serialized()
            return VerbResults.result("Stability", "stability of \(quoted(answer)) over \(layers.count) layers", [bundle, chart.mimeBundle])
        })
}
