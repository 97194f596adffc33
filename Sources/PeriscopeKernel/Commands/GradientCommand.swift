import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `g = gradient p answer "tok" [against "tok2"] hook "name"`: the gradient of the metric at one hook point.
enum GradientCommand {
    static let spec = CommandSpec(
        name: "gradient",
        group: .analysis,
        synopsis: "gradient p answer \"tok\" [against \"tok2\"] hook \"name\"",
        description: "The gradient of log p(answer) at the last position (or of the logit difference answer − against) with respect to the activation at one hook point, at every position: a Gradient of shape [positions, …] as `hooks` lists it. Shows each position's gradient norm; `export g to \"g.npy\"` writes it, `similarity [g1, g2]` compares gradients of the same shape. Attention scores and patterns have no gradient here (ask at attn.hook_z, hook_q, hook_k or hook_v).",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt")],
        keywords: [
            Parameter("answer", .string, required: true, summary: "the answer token, e.g. \" Paris\""),
            Parameter("against", .string, summary: "differentiate the logit difference answer − against instead"),
            Parameter("hook", .string, required: true, summary: "the hook point's name, e.g. \"blocks.3.hook_resid_pre\"",
                      completions: { session, _ in (session.models.current?.hookNames ?? []).map(quoted) }),
        ],
        example: "g = gradient \"The Eiffel Tower is in the city of\" answer \" Paris\" hook \"blocks.5.hook_resid_pre\"",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let prompt = try arguments.prompt("p", session: context.session, model: model) else { return nil }
            let tokens = try VerbArguments.answer(arguments, model: model)
            let (answer, against) = (tokens.answer, tokens.against)
            let point = try ExportCommand.hookPoint(arguments.string("hook") ?? "", model: model, range: arguments.range(of: "hook"))
            if point == .attnScores(point.layer ?? 0) || point == .pattern(point.layer ?? 0) {
                throw CommandError.noGradient(hook: point.name, range: arguments.range(of: "hook"))
            }
            let metric = tokens.gradientMetric
            let notes = try CommandError.catching(at: arguments.headRange) {
                try ResultNotes.answers(tokens.labelled, prompt: prompt, model: model,
                                        task: context.task)
            }
            let (value, tensor) = try CommandError.catching(at: arguments.headRange) { () throws -> (Double, Tensor) in
                let cache = ActivationCache()
                let hooks = HookSet()
                hooks.cache([point], into: cache)
                let pass = try model.model.gradients([prompt.ids], metrics: [metric], gradientHooks: hooks, context: context.task)
                guard let t = cache[point] else { throw AnalysisError.layerNotRecorded(point.layer ?? 0) }
                return (pass.metrics[0], Tensor(shape: Array(t.shape.dropFirst()), data: t.data))
            }
            let piece = { (id: Int) in model.tokenizer.piece(Int32(id)) }
            let metricName = against.map { "logit(\(visibleToken(piece(answer)))) − logit(\(visibleToken(piece($0))))" }
                ?? "log p(\(visibleToken(piece(answer))))"
            return .object(GradientValue(gradient: tensor, point: point, metricName: metricName, metricValue: value,
                                         tokens: prompt.tokens, promptSummary: prompt.summary, modelName: model.name, notes: notes))
        })
}

/// A gradient ∂metric/∂activation at one hook point: [positions, …shape].
struct GradientValue: ValueContent {
    var gradient: Tensor
    var point: HookPoint
    var metricName: String
    var metricValue: Double
    var tokens: [String]
    var promptSummary: String
    var modelName: String
    /// Sentences qualifying the gradient (an improbable answer), shown with it.
    var notes: [String] = []

    var typeName: String { "Gradient" }
    var summary: String { "Gradient of \(metricName) at \(point.name) \(gradient.shape)" }

    /// The Euclidean norm of each position's gradient.
    var positionNorms: [Double] {
        let w = gradient.stride0
        return (0..<(gradient.shape.first ?? 0)).map { t in
            gradient.data[t * w..<(t + 1) * w].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        }
    }

    func render() -> MimeBundle {
        let norms = positionNorms
        let strip = TokenStrip(title: "‖∂ \(metricName) / ∂ \(point.name)‖ per position — \(promptSummary)",
                               tokens: tokens, scores: norms, scale: .sequential, valueLabel: "gradient norm",
                               valueFormat: .general, kind: "gradient")
        var bundle = strip.mimeBundle
        bundle.json = appending(strip.json, [
            ("hook", .string(point.name)), ("shape", .array(gradient.shape.map { .int($0) })),
            ("metric", .string(metricName)), ("metric_value", .num(metricValue)), ("model", .string(modelName)),
            ("norms", .nums(norms)),
        ])
        bundle.data[MimeBundle.plain] = strip.plainText + "\n\(summary); \(metricName) = \(NumberFormat.fixed(4).format(metricValue))"
        return bundle.noting(notes)
    }

    static let exporter: @Sendable (Value, BoundArguments, CommandContext) throws -> Value? = { value, arguments, _ in
        guard case .object(let g as GradientValue) = value else { return nil }
        if arguments.has("hook") {
            throw CommandError.exportedWhole(typeName: "Gradient", range: arguments.range(of: "hook"))
        }
        let destination = arguments.string("to") ?? ""
        guard destination.lowercased().hasSuffix(".npy") else {
            throw CommandError.wrongExtension(what: "A Gradient", format: "a NumPy .npy file", ext: ".npy", example: "grad.npy",
                                              range: arguments.range(of: "to"))
        }
        let path = ModelCatalog.canonicalPath(destination)
        do {
            try NpyWriter.write(shape: g.gradient.shape, values: g.gradient.data, to: path)
        } catch let error as NpyError {
            throw CommandError.npy(error, range: arguments.range(of: "to"))
        }
        let card = Card(title: "Exported gradient", [
            ("gradient", "\(g.metricName) at \(g.point.name)"), ("file", path),
            ("shape", "\(g.gradient.shape) float32"),
        ], kind: "export")
        var bundle = card.mimeBundle
        bundle.json = appending(card.json, [
            ("path", .string(path)), ("hook", .string(g.point.name)), ("dtype", .string("float32")),
            ("shape", .array(g.gradient.shape.map { .int($0) })),
        ])
        return .result(RenderedResult(typeName: "Export", summary: "gradient at \(g.point.name) → \(path)", bundle: bundle))
    }
}
