import Foundation
import PeriscopeLanguage
import Rendering
import Transformer

/// `export p hook "name" to "file.npy"`: writes a prompt's activations at one hook point as NumPy.
enum ExportCommand {
    static let spec = CommandSpec(
        name: "export",
        group: .prompts,
        synopsis: "export p hook \"name\" to \"file.npy\" | export v to \"file.gguf\" | export result to \"file.csv\"",
        description: "Writes a prompt's activations at one hook point to a NumPy .npy file. The hook is a TransformerLens name from `hooks`, e.g. \"blocks.3.hook_resid_post\"; the file holds float32 in C order, shape [positions, …] as `hooks` lists it, readable with `numpy.load`. The prompt is run first if its activations are not cached. A relative path is relative to the kernel's working folder (the notebook's folder). `export v to \"file.gguf\"` writes a Vector (from `direction`, or a two-label probe's direction) as a llama.cpp control vector (tensor `direction.{L}`, which llama.cpp's `--control-vector` adds to the output of block L, as `steer` does; not at layer 0), and `to \"v.npy\"` as a NumPy vector. Every displayed result exports too: a heatmap, table or chart to `.csv`, or to `.npy` (float32, with its row and column labels beside it in `file.labels.json`), and a chart or heatmap to `.svg`; a probe to `.npy` writes its weight vectors per layer.",
        positionals: [Parameter("p", .value, required: true, summary: "the prompt (a string or a Prompt variable), a Vector, or a result")],
        keywords: [
            Parameter("hook", .string, summary: "the hook point's name (required for a prompt)",
                      completions: { session, _ in
                          // Without a model, block 0's names show the pattern to edit.
                          (session.models.current?.hookNames ?? HookPoint.all(layers: 1).map(\.name)).map(quoted)
                      }),
            Parameter("to", .string, required: true, summary: "the file to write: .npy, .gguf (a Vector), .csv or .svg (a result)"),
        ],
        example: "export \"The Eiffel Tower\" hook \"blocks.3.hook_resid_post\" to \"resid3.npy\"",
        run: { arguments, context in
            let session = context.session
            guard let value = arguments.value("p") else { return nil }
            if let exporter = otherExporters[value.typeName] { return try exporter(value, arguments, context) }
            if case .result(let result) = value {
                if arguments.has("hook") {
                    throw CommandError.exportedWhole(typeName: result.typeName, range: arguments.range(of: "hook"))
                }
                return try ResultExport.export(parts: result.parts, typeName: result.typeName,
                                               path: ModelCatalog.canonicalPath(arguments.string("to") ?? ""), range: arguments.range(of: "to"))
            }
            let model = try session.currentModel(range: arguments.headRange)
            guard value.typeName == "string" || value.typeName == "Prompt" else {
                let kinds = [ValueKind.prompt.phrase] + otherExporters.keys.sorted().map { withArticle($0) }
                throw CommandError.typeMismatch(parameter: "p", verb: "export", expected: kinds.joined(separator: " or "),
                                                given: withArticle(value.typeName), range: arguments.range(of: "p"))
            }
            guard let hookName = arguments.string("hook") else {
                throw CommandError.missingArgument(parameter: "the keyword `hook` with the hook point's name", verb: "export",
                                                   synopsis: "export p hook \"name\" to \"file.npy\"", range: arguments.headRange)
            }
            let point = try hookPoint(hookName, model: model, range: arguments.range(of: "hook"))
            let destination = arguments.string("to") ?? ""
            guard destination.lowercased().hasSuffix(".npy") else {
                throw CommandError.wrongExtension(what: "An activation", format: "a NumPy .npy file", ext: ".npy",
                                                  example: "activations.npy", range: arguments.range(of: "to"))
            }
            let path = ModelCatalog.canonicalPath(destination)
            let prompt = try session.prompt(from: value, model: model, range: arguments.range(of: "p"))

            var evicted: [CachedRun] = []
            let run = try session.cachedRun(prompt, model: model, points: [point], context: context.task, evicted: &evicted)
            guard let tensor = run[point] else {
                throw CommandError.notRecorded(hook: point.name, range: arguments.range(of: "hook"))
            }
            do {
                try NpyWriter.write(shape: tensor.shape, values: tensor.data, to: path)
            } catch let error as NpyError {
                throw CommandError.npy(error, range: arguments.range(of: "to"))
            }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? tensor.byteCount
            let shape = "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]"
            let card = Card(title: "Exported \(point.name)", [
                ("prompt", prompt.summary), ("hook", point.name), ("shape", shape + " float32"),
                ("file", path), ("size", formatBytes(bytes)),
            ], kind: "export")
            var bundle = card.mimeBundle
            bundle.json = appending(card.json, [
                ("path", .string(path)), ("hook", .string(point.name)), ("dtype", .string("float32")),
                ("shape", .array(tensor.shape.map { .int($0) })), ("bytes", .int(bytes)),
            ])
            return .result(RenderedResult(typeName: "Export", summary: "\(point.name) \(shape) → \(path)", bundle: bundle))
        })

    /// Exports of other value types, by type name (e.g. "Vector" → a llama.cpp control vector);
    /// each takes the value, the bound arguments and the context.
    static let otherExporters: [String: @Sendable (Value, BoundArguments, CommandContext) throws -> Value?] = [
        "Vector": VectorValue.exporter,
        "Gradient": GradientValue.exporter,
        "Probe": { value, arguments, _ in
            guard case .object(let probe as ProbeValue) = value else { return nil }
            return try probe.export(arguments: arguments)
        },
    ]

    /// The hook point named `name` in `model`, or an error suggesting the nearest names.
    static func hookPoint(_ name: String, model: LoadedModel, range: SourceRange?) throws -> HookPoint {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard let point = HookPoint(name: trimmed), point.isInEveryBlock || point.exists(in: model.config) else {
            let near = suggestions(for: trimmed, among: model.hookNames)
            throw CommandError.unknownHook(trimmed, model: model.name, suggestions: near, range: range)
        }
        if let layer = point.layer, layer >= model.config.layerCount {
            throw CommandError.outOfRange(what: "layer", value: layer,
                                          valid: "0..\(model.config.layerCount - 1) (the model has \(model.config.layerCount) layers)",
                                          range: range)
        }
        return point
    }
}
