import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `steer p with v [layer L] [scale S | scales [..]] [generate N] [positions S]`: steered continuations.
enum SteerCommand {
    static let spec = CommandSpec(
        name: "steer",
        group: .analysis,
        synopsis: "steer p with v [layer L] [scale S | scales [..]] [generate N] [positions S]",
        description: "Activation addition: adds scale × v to `resid_post` of block L (default: the layer v was read at) and continues the prompt greedily, once per scale, side by side with the unsteered continuation (scale 0 is always included and is exactly what `generate` gives). Without `positions` the vector is added at every token, generated ones included; with `positions` only at those prompt tokens. Default scales: 0, 2, 4, 8; `generate` N new tokens (default 20).",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt to continue")],
        keywords: [
            Parameter("with", .typed("Vector"), required: true, summary: "the steering vector (from `direction`)"),
            Parameter("layer", .int, summary: "the block to add it at (default: the vector's layer)"),
            Parameter("scale", .float, summary: "one scale (0 is added for comparison)"),
            Parameter("scales", .value, summary: "a list of scales, e.g. [-4, 4, 8]"),
            Parameter("generate", .int, summary: "new tokens per continuation (default 20)"),
            Parameter("positions", .positions, summary: "only these prompt tokens (default: every token, generated ones too)"),
        ],
        example: "steer \"I think dogs are\" with v scales [0, 4, 8] generate 20",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let prompt = try arguments.prompt("p", session: context.session, model: model),
                  let v = try VerbArguments.vector(arguments, "with") else { return nil }
            try VerbArguments.check(v, fits: model, range: arguments.range(of: "with"))
            let layer = try VerbArguments.layer(arguments, "layer", model: model) ?? v.vector.layer
            guard layer < model.config.layerCount else {
                throw CommandError.outOfRange(what: "layer", value: layer, valid: "0..\(model.config.layerCount - 1)", range: arguments.range(of: "with"))
            }
            if arguments.has("scale") && arguments.has("scales") {
                throw CommandError.conflictingArguments("`scale S`", "`scales [..]`", range: arguments.range(of: "scales"))
            }
            var scales: [Double]
            if let s = arguments.float("scale") {
                scales = [s]
            } else if let list = arguments.value("scales") {
                guard case .list(let items) = list, !items.isEmpty else {
                    throw CommandError.typeMismatch(parameter: "scales", verb: "steer", expected: "a list of numbers, e.g. [2, 4, 8]",
                                                    given: withArticle(list.typeName), range: arguments.range(of: "scales"))
                }
                scales = try items.map { item -> Double in
                    switch item {
                    case .int(let i): return Double(i)
                    case .float(let d): return d
                    default:
                        throw CommandError.wrongItem(parameter: "scales", expected: "numbers", given: item.sourceText, range: arguments.range(of: "scales"))
                    }
                }
            } else {
                scales = [2, 4, 8]
            }
            guard scales.allSatisfy(\.isFinite) else {
                throw CommandError.wrongItem(parameter: "scales", expected: "finite numbers", given: "\(scales)", range: arguments.range(of: "scales"))
            }
            scales = [0] + scales.filter { $0 != 0 }
            var seen = Set<Double>()
            scales = scales.filter { seen.insert($0).inserted }
            let count = arguments.int("generate") ?? 20
            let limit = model.config.contextLength - prompt.ids.count
            guard count >= 1, count <= limit else {
                throw CommandError.outOfRange(what: "generate", value: count, valid: "1..\(max(limit, 1))", range: arguments.range(of: "generate"))
            }
            let positions = try arguments.has("positions")
                ? VerbArguments.positions(arguments, "positions", prompt: prompt) : nil

            let runs = try CommandError.catching(at: arguments.headRange) {
                try Steering.generate(model: model.model, prompt: prompt.ids, vector: v.vector.values, layer: layer, scales: scales,
                                      maxTokens: count, positions: positions, stop: model.stopTokens, context: context.task)
            }
            let stop = model.stopTokens
            let texts = runs.map { run -> String in
                let shown = run.tokens.last.map { stop.contains($0) } == true ? Array(run.tokens.dropLast()) : run.tokens
                return model.tokenizer.decode(shown.map(Int32.init))
            }
            let rows: [[Table.Cell]] = zip(runs, texts).map { run, text in
                [.number(run.scale, .general), .text(run.scale == 0 ? "(unsteered)" : ""), .text(text)]
            }
            let where_ = positions.map { "positions \($0.map(String.init).joined(separator: ", "))" } ?? "every token"
            let table = Table(title: "Steering \(prompt.summary) with \(v.vector.label)",
                              columns: [.init("scale", alignment: .right), .init(""), .init("continuation", wraps: true)], rows: rows,
                              caption: "added at \(HookPoint.residPost(layer).name), \(where_); greedy, \(count) new tokens; ‖v‖ = \(NumberFormat.fixed(3).format(v.vector.norm))",
                              kind: "steering")
            var bundle = table.mimeBundle
            bundle.json = appending(table.json, [
                ("prompt", .string(prompt.text)), ("layer", .int(layer)), ("vector", .string(v.vector.label)),
                ("positions", positions.map { .array($0.map { .int($0) }) } ?? .null),
                ("scales", .nums(runs.map(\.scale))), ("continuations", .strings(texts)),
                ("ids", .array(runs.map { .array($0.tokens.map { .int($0) }) })),
            ])
            return .result(RenderedResult(typeName: "Table", summary: "steering of \(prompt.summary) at \(runs.count) scales", bundle: bundle))
        })
}
