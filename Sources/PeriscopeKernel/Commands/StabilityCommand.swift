import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `stability p [layers R] [positions S] [noise X] [samples N] [seed S]`: does the answer survive noise?
enum StabilityCommand {
    static let spec = CommandSpec(
        name: "stability",
        group: .analysis,
        synopsis: "stability p [layers R] [positions S] [noise X] [samples N] [seed S]",
        description: "Adds Gaussian noise to `resid_post` of one layer at a time (standard deviation X times the RMS of the clean residual state at each position, default X = 0.2) in N seeded samples (default 16), and reports the share of samples that keep the clean top-1 next token, with its mean probability. Noise goes to every position except the attention sink (a massive-activation position, at BOS or the first token), whose enormous RMS would make the noise decide the answer by itself; `positions` picks the positions, the sink included when named. Shows a table and a line chart by layer.",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt")],
        keywords: [
            Parameter("layers", .layers, summary: "the layers to perturb (default all)"),
            Parameter("positions", .positions, summary: "the positions to perturb (default all but the attention sink)"),
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
                throw CommandError.numberOutOfRange(what: "noise", value: noise, valid: "0 or more (a multiple of the residual stream's RMS)",
                                                    range: arguments.range(of: "noise"))
            }
            let samples = arguments.int("samples") ?? 16
            guard samples >= 1, samples <= 256 else {
                throw CommandError.outOfRange(what: "samples", value: samples, valid: "1..256", range: arguments.range(of: "samples"))
            }
            let seed = try VerbArguments.seed(arguments)
            let positions = arguments.has("positions") ? try VerbArguments.positions(arguments, "positions", prompt: prompt) : nil
            let r = try CommandError.catching(at: arguments.headRange) {
                let profile = try ResultNotes.profile(model)
                return try Stability.measure(model: model.model, prompt: prompt.ids, layers: layers, noise: noise, samples: samples,
                                             seed: seed, positions: positions, profile: profile, context: context.task)
            }
            let where_ = describe(r, prompt: prompt, model: model)
            var notes: [String] = []
            let noisedSinks = r.sinkPositions.filter(r.positions.contains)
            if let sink = noisedSinks.first {
                notes.append("The noise includes \(ResultNotes.where_(sink, model: model, prompt: prompt)) whose RMS is "
                             + "\(Int(r.sinkRatio.rounded()))× the median: noise scaled by it is huge and decides the result at every layer where "
                             + "the sink exists. Leave `positions` out to perturb every other position.")
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
                              caption: "clean top-1 \(quoted(answer)) with p = \(NumberFormat.fixed(4).format(r.cleanProbability)); \(samples) samples per layer, noise \(formatFloat(noise)) × RMS at \(where_), seed \(seed)",
                              kind: "stability")
            let xs = r.layers.map { Double($0.layer) }
            let chart = LineChart(title: "Share of noisy runs keeping \(quoted(answer))", xLabel: "layer", yLabel: "kept",
                                  series: [.init(name: "kept top-1", x: xs, y: r.layers.map(\.kept)),
                                           .init(name: "mean p", x: xs, y: r.layers.map(\.meanProbability))],
                                  yRange: .fixed(0, 1), valueFormat: .fixed(2), kind: "stability_chart")
            var bundle = table.mimeBundle
            bundle.json = appending(table.json, [
                ("answer", .string(answer)), ("answer_id", .int(r.cleanTop)), ("clean_probability", .num(r.cleanProbability)),
                ("layers", .array(r.layers.map { .int($0.layer) })), ("kept", .nums(r.layers.map(\.kept))),
                ("mean_probability", .nums(r.layers.map(\.meanProbability))), ("std", .nums(r.layers.map(\.std))),
                ("samples", .int(samples)), ("noise", .num(noise)), ("seed", .int(Int(seed))),
                ("positions", .array(r.positions.map { .int($0) })), ("sink_positions", .array(r.sinkPositions.map { .int($0) })),
            ])
            var chartBundle = chart.mimeBundle
            chartBundle.data[MimeBundle.plain] = "(chart: kept top-1 and mean p by layer, as in the table)"
            return VerbResults.result("Stability", "stability of \(quoted(answer)) over \(layers.count) layers",
                                        [bundle.noting(notes), chartBundle])
        })

    /// "positions 1–6 (position 0, the attention sink, left out)".
    static func describe(_ r: StabilityResult, prompt: PromptValue, model: LoadedModel) -> String {
        let list: String
        if let first = r.positions.first, let last = r.positions.last, r.positions.count > 2, last - first == r.positions.count - 1 {
            list = "positions \(first)–\(last)"
        } else {
            list = (r.positions.count == 1 ? "position " : "positions ") + r.positions.map(String.init).joined(separator: ", ")
        }
        let left = r.sinkPositions.filter { !r.positions.contains($0) }
        guard !left.isEmpty else { return list }
        return list + " (" + (left.count == 1 ? "position \(left[0]), the attention sink, left out"
                               : "the attention sink at positions \(left.map(String.init).joined(separator: ", ")) left out") + ")"
    }
}
