import Foundation
import Interpretability
import Rendering
import Transformer

/// `trace CLEAN CORRUPT answer "tok" …` (activation patching) and `trace CLEAN noise "subject" answer "tok" …`
/// (causal tracing).
enum TraceCommand {
    static let hooks = ["resid_pre", "attn_out", "mlp_out", "heads"]
    static let methods = ["exact", "attribution"]

    static let spec = CommandSpec(
        name: "trace",
        group: .patching,
        synopsis: "trace CLEAN (CORRUPT | noise \"subject\") answer \"tok\" [against \"tok2\"] [hook resid_pre|attn_out|mlp_out|heads] [layers R] [positions S] [method exact|attribution] [std X] [samples N] [seed S] [window W]",
        description: "Activation patching: runs the corrupt prompt while restoring one clean activation at a time (each layer × position), and measures p(answer), or the logit difference answer − against, normalised so that 0 = the corrupt run and 1 = the clean run. With `noise \"subject\"` instead of a corrupt prompt it is causal tracing (ROME): the corrupt run adds Gaussian noise (`std` × the embedding std, default 3) to the subject's token embeddings, averaged over `samples` seeded runs (default 10); `window W` restores W consecutive layers around each layer at once (the ROME paper's MLP and attention curves use W = 10 with `hook mlp_out` or `attn_out`). Clean and corrupt must have the same number of tokens. Output: a heatmap, layers × positions; with `hook heads`, layers × heads (each head's clean `hook_z` restored at every position). `method attribution` is attribution patching: the same map estimated to first order, (clean − corrupt activation) · gradient of the metric on the corrupt run, from one clean pass, one corrupt pass and one backward pass. An answer the model finds improbable where another spelling is far likelier (a leading space, other casing) is named; effects outside 0…1 widen the colour scale. Interrupt stops it between layers; the session is unchanged.",
        positionals: [
            Parameter("clean", .prompt, required: true, summary: "the clean prompt"),
            Parameter("corrupt", .prompt, summary: "the corrupt prompt (same token count), or use `noise`"),
        ],
        keywords: [
            Parameter("answer", .string, required: true, summary: "the answer token whose probability is measured"),
            Parameter("against", .string, summary: "measure the logit difference answer − against instead"),
            Parameter("noise", .string, summary: "causal tracing: the subject text in the clean prompt to corrupt with noise"),
            Parameter("hook", .choice(hooks, allowsInt: false), summary: "which activation to restore (default resid_pre); heads: each head's hook_z"),
            Parameter("method", .choice(methods, allowsInt: false), summary: "exact (default) or attribution (first-order estimate from one backward pass)"),
            Parameter("layers", .layers, summary: "which layers (default all)"),
            Parameter("positions", .positions, summary: "which positions (default all)"),
            Parameter("std", .float, summary: "noise size in embedding standard deviations (default 3)"),
            Parameter("samples", .int, summary: "noisy runs to average (default 10)"),
            Parameter("seed", .int, summary: "noise seed (default 0)"),
            Parameter("window", .int, summary: "causal tracing: restore W consecutive layers at once (default 1)"),
        ],
        example: "trace \"The Eiffel Tower is in the city of\" \"The Colosseum is in the city of\" answer \" Paris\"",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let clean = try arguments.prompt("clean", session: context.session, model: model) else { return nil }
            let request = try makeRequest(arguments, clean: clean, model: model, session: context.session)
            let (data, answerNotes) = try CommandError.catching(at: arguments.headRange) {
                let notes = try ResultNotes.answers(request.tokens.labelled,
                                                    prompt: clean, model: model, task: context.task)
                return (try compute(request, model: model, session: context.session, task: context.task), notes)
            }
            return VerbResults.noting(render(data, request: request, model: model), answerNotes + outsideNotes(data))
        })

    // MARK: - Checking the arguments

    /// Everything `trace` needs, checked.
    struct Request {
        var clean: PromptValue
        /// The corrupt prompt, or nil for causal tracing.
        var corrupt: PromptValue?
        /// Causal tracing: the subject's token positions in the clean prompt, and the noise settings.
        var subject: String?
        var subjectPositions: [Int]
        var std: Double
        var samples: Int
        var seed: Int
        var tokens: AnswerTokens
        var answer: Int { tokens.answer }
        var against: Int? { tokens.against }
        var hook: String
        var method: String
        var layers: [Int]
        var positions: [Int]
        var window: Int
    }

    static func makeRequest(_ arguments: BoundArguments, clean: PromptValue, model: LoadedModel,
                            session: Session) throws -> Request {
        let corrupt = try arguments.prompt("corrupt", session: session, model: model)
        let subject = arguments.string("noise")
        switch (corrupt, subject) {
        case (nil, nil):
            throw CommandError.missingArgument(parameter: "a corrupt prompt after the clean one, or `noise \"subject\"` for causal tracing",
                                               verb: "trace", synopsis: spec.synopsis, range: arguments.headRange)
        case (.some, .some):
            throw CommandError.conflictingArguments("a corrupt prompt", "`noise \"subject\"`", range: arguments.range(of: "noise"))
        default:
            break
        }
        if let corrupt, corrupt.ids.count != clean.ids.count {
            throw CommandError.promptLengthMismatch(clean: clean.tokens.map(visibleToken), corrupt: corrupt.tokens.map(visibleToken), range: arguments.range(of: "corrupt"))
        }
        let method = arguments.word("method") ?? "exact"
        let hook = arguments.word("hook") ?? "resid_pre"
        if corrupt == nil, method == "attribution" || hook == "heads" {
            let name = method == "attribution" ? "method" : "hook"
            throw CommandError.needsCorruptPrompt(option: "\(name) \(name == "method" ? method : hook)", range: arguments.range(of: name))
        }
        if hook == "heads", arguments.has("positions") {
            throw CommandError.conflictingArguments("`hook heads` (each head at every position at once)", "`positions`",
                                                    range: arguments.range(of: "positions"))
        }
        if corrupt != nil {
            for name in ["std", "samples", "seed", "window"] where arguments.has(name) {
                throw CommandError.inapplicableKeyword(name, appliesTo: "causal tracing (`noise \"subject\"`)", range: arguments.range(of: name))
            }
        }
        var subjectPositions: [Int] = []
        if let subject {
            subjectPositions = try CommandError.catching(at: arguments.range(of: "noise")) {
                try CausalTracing.subjectPositions(subject, in: clean.ids, tokenizer: model.tokenizer)
            }
        }
        let tokens = try VerbArguments.answer(arguments, model: model)
        let std = arguments.float("std") ?? 3
        guard std > 0, std.isFinite else {
            throw CommandError.numberOutOfRange(what: "std", value: std, valid: "a positive number of embedding standard deviations",
                                                range: arguments.range(of: "std"))
        }
        let samples = arguments.int("samples") ?? 10
        guard samples >= 1, samples <= 1000 else {
            throw CommandError.outOfRange(what: "samples", value: samples, valid: "1..1000", range: arguments.range(of: "samples"))
        }
        let seed = arguments.int("seed") ?? 0
        guard seed >= 0 else {
            throw CommandError.outOfRange(what: "seed", value: seed, valid: "0 or more", range: arguments.range(of: "seed"))
        }
        let window = arguments.int("window") ?? 1
        guard window >= 1, window <= model.config.layerCount else {
            throw CommandError.outOfRange(what: "window", value: window, valid: "1..\(model.config.layerCount)", range: arguments.range(of: "window"))
        }
        return Request(clean: clean, corrupt: corrupt, subject: subject, subjectPositions: subjectPositions, std: std,
                       samples: samples, seed: seed, tokens: tokens,
                       hook: hook, method: method,
                       layers: try VerbArguments.layers(arguments, model: model),
                       positions: try VerbArguments.positions(arguments, "positions", prompt: clean), window: window)
    }

    // MARK: - Data

    /// The restored effect of every (layer, position).
    struct Data {
        var layers: [Int]
        /// Positions, or heads with `hook heads`.
        var positions: [Int]
        /// values[layer index][position index], normalised: 0 = corrupt, 1 = clean.
        var values: [[Double]]
        /// The metric on the clean and the corrupt run (p(answer) or the logit difference).
        var cleanMetric: Double
        var corruptMetric: Double
        /// The metric of every restored run, before normalising.
        var raw: [[Double]]
    }

    static func compute(_ request: Request, model: LoadedModel, session: Session, task: TaskContext) throws -> Data {
        let metric = request.tokens.patchingMetric
        let hook = HookSite(rawValue: request.hook) ?? .residPre
        if request.hook == "heads", let corrupt = request.corrupt {
            let heads = request.method == "attribution"
                ? try AttributionPatching.heads(model: model.model, clean: request.clean.ids, corrupt: corrupt.ids, metric: metric,
                                                layers: request.layers, tokenizer: model.tokenizer, context: task)
                : try HeadPatching.exact(model: model.model, clean: request.clean.ids, corrupt: corrupt.ids, metric: metric,
                                         layers: request.layers, tokenizer: model.tokenizer, context: task)
            return Data(layers: heads.layers, positions: heads.heads, values: heads.normalized, cleanMetric: heads.cleanValue,
                        corruptMetric: heads.corruptValue, raw: heads.raw)
        }
        let result: PatchingResult
        if let corrupt = request.corrupt, request.method == "attribution" {
            result = try AttributionPatching.run(model: model.model, clean: request.clean.ids, corrupt: corrupt.ids, metric: metric,
                                                 hook: hook, layers: request.layers, positions: request.positions,
                                                 tokenizer: model.tokenizer, context: task)
        } else if let corrupt = request.corrupt {
            result = try ActivationPatching.run(model: model.model, clean: request.clean.ids, corrupt: corrupt.ids, metric: metric,
                                                hook: hook, layers: request.layers, positions: request.positions,
                                                tokenizer: model.tokenizer, context: task)
        } else {
            result = try CausalTracing.run(model: model.model, prompt: request.clean.ids, subjectPositions: request.subjectPositions,
                                           metric: metric, noise: Float(request.std), samples: request.samples,
                                           seed: UInt64(request.seed), hook: hook, layers: request.layers,
                                           positions: request.positions, window: request.window, tokenizer: model.tokenizer,
                                           context: task)
        }
        return Data(layers: result.layers, positions: result.positions, values: result.normalized,
                    cleanMetric: result.cleanValue, corruptMetric: result.corruptValue, raw: result.raw)
    }

    // MARK: - Rendering

    /// The colour scale's half-width: 1, or the largest |effect| when some lie outside −1…1, so
    /// that an effect of 1.77 is not drawn as 1.
    static func effectBound(_ data: Data) -> Double {
        max(1, data.values.flatMap { $0 }.filter(\.isFinite).map(abs).max() ?? 1)
    }

    /// A note when restored effects leave 0…1 by more than noise: above 1, the restored run is more
    /// sure of the answer than the clean run; below 0, less than the corrupt run.
    static func outsideNotes(_ data: Data) -> [String] {
        let finite = data.values.flatMap { $0 }.filter(\.isFinite)
        guard let high = finite.max(), let low = finite.min() else { return [] }
        var parts: [String] = []
        if high > 1.1 { parts.append("up to \(NumberFormat.fixed(2).format(high)) (restoring there makes the answer likelier than in the clean run)") }
        if low < -0.1 { parts.append("down to \(NumberFormat.fixed(2).format(low)) (less likely than in the corrupt run)") }
        guard !parts.isEmpty else { return [] }
        return ["Restored effects leave 0…1: " + parts.joined(separator: "; ") + ". The colour scale spans ±"
                + NumberFormat.fixed(2).format(effectBound(data)) + " to show them; a small clean–corrupt gap (clean "
                + NumberFormat.general.format(data.cleanMetric) + ", corrupt " + NumberFormat.general.format(data.corruptMetric)
                + ") makes such ratios large."]
    }

    static func render(_ data: Data, request: Request, model: LoadedModel) -> Value {
        let piece = { (id: Int) in model.tokenizer.piece(Int32(id)) }
        let metric = request.against == nil ? "p(\(visibleToken(piece(request.answer))))"
            : "logit(\(visibleToken(piece(request.answer)))) − logit(\(visibleToken(piece(request.against ?? 0))))"
        let clean = request.clean
        let heads = request.hook == "heads"
        let columnLabels = heads ? data.positions.map { "H\($0)" } : data.positions.map { p -> String in
            var label = "\(p) " + visibleToken(clean.tokens[p])
            if let corrupt = request.corrupt, corrupt.ids[p] != clean.ids[p] { label += "/" + visibleToken(corrupt.tokens[p]) }
            else if request.subjectPositions.contains(p) { label += "*" }
            return label
        }
        let what = request.corrupt == nil ? "Causal tracing" + (request.window > 1 ? " (window \(request.window))" : "")
            : request.method == "attribution" ? "Attribution patching" : "Activation patching"
        let heatmap = Heatmap(
            title: "\(what) (\(request.hook)) — \(metric) restored, 0 = corrupt, 1 = clean",
            xLabel: heads ? "head (hook_z at every position)" : "position (clean token" + (request.corrupt == nil ? ", * = noised)" : "/corrupt token)"),
            yLabel: "layer", rowLabels: VerbResults.layerLabels(data.layers), columnLabels: columnLabels,
            values: data.values, scale: .diverging, range: .fixed(-effectBound(data), effectBound(data)), valueLabel: "restored effect",
            valueFormat: .fixed(2), kind: "trace")
        var extra: [(String, JSONOut)] = [
            ("analysis", .string(request.corrupt == nil ? "causal_tracing"
                : request.method == "attribution" ? "attribution_patching" : "activation_patching")),
            ("hook", .string(request.hook)),
            ("method", .string(request.method)),
            ("layers", .array(data.layers.map { .int($0) })),
            (heads ? "heads" : "positions", .array(data.positions.map { .int($0) })),
            ("metric", .string(request.against == nil ? "prob" : "logit_diff")),
            ("answer", .object([("id", .int(request.answer)), ("token", .string(piece(request.answer)))])),
            ("against", request.against.map { .object([("id", .int($0)), ("token", .string(piece($0)))]) } ?? .null),
            ("clean_metric", .num(data.cleanMetric)),
            ("corrupt_metric", .num(data.corruptMetric)),
            ("raw", .matrix(data.raw)),
            ("clean", VerbResults.promptJSON(clean)),
            ("corrupt", request.corrupt.map(VerbResults.promptJSON) ?? .null),
            ("model", .string(model.name)),
        ]
        if let subject = request.subject {
            extra += [("noise", .object([("subject", .string(subject)),
                                         ("positions", .array(request.subjectPositions.map { .int($0) })),
                                         ("std", .num(request.std)), ("samples", .int(request.samples)), ("window", .int(request.window)),
                                         ("seed", .int(request.seed))]))]
        }
        let caption = String(format: "%@: clean %.4g, corrupt %.4g", metric, data.cleanMetric, data.corruptMetric)
        var bundle = heatmap.mimeBundle
        bundle.data[MimeBundle.plain] = heatmap.plainText + "\n" + caption
        return VerbResults.result(bundle, json: heatmap.json, extra: extra, typeName: "Heatmap",
                                  summary: "\(what.lowercased()), \(data.layers.count) layers × \(data.positions.count) \(heads ? "heads" : "positions")")
    }
}
