import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `patchscope S [model m1] position I [target T] [model m2] [layers R] [target_layer same|N] [generate N] [map fit]`:
/// one Patchscope per source layer.
enum PatchscopeCommand {
    static let spec = CommandSpec(
        name: "patchscope",
        group: .patching,
        synopsis: "patchscope S [model m1] position I [target T] [model m2] [layers R] [target_layer same|N] [generate N] [map fit]",
        description: "The Patchscope sweep: for each source layer, takes the hidden state (`resid_post`) of the source prompt at one position, writes it into the target prompt's run at the same layer (or `target_layer N`) at the target's placeholder, and lets the model decode it. The target is a prompt (patched at its last token) or a preset: `identity` (\"cat -> cat; 1135 -> 1135; hello -> hello; ?\", the default; the placeholder \"?\" is the last token, so what the model says next is its reading of the patched state), `description` (the paper's few-shot entity description) or `attribute \"The capital city of x\"`. `model m1` runs the source on another model than the current one and `model m2` after `target` the target; across two models the default target layer is the one at the same depth, and states of different widths need `map fit` (one affine map per source layer, fitted on the built-in text sample and kept for the session). The patch is written during the prompt pass; generated tokens see it through the KV cache, as in the Patchscopes reference code. Output: a table, layer → decoded text, and a heatmap of each decoded token's probability. Interrupt stops it between layers.",
        positionals: [
            Parameter("S", .prompt, required: true, summary: "the source prompt"),
            Parameter("text", .string, summary: "the template after `target attribute`, e.g. \"The capital city of x\""),
        ],
        keywords: [
            Parameter("model", .name, summary: "the source model (default the current model)"),
            Parameter("position", .positions, summary: "the source token (default -1, the last)"),
            Parameter("target", .name, summary: "identity (default), description, attribute \"…x…\", or a prompt",
                      completions: { _, _ in PatchTarget.presets }),
            Parameter("target_model", .name, summary: "the target model (`model` after `target`; default the source model)"),
            Parameter("layers", .layers, summary: "source layers (default all)"),
            Parameter("target_layer", .choice(["same"], allowsInt: true), summary: "`same` (default) or one target layer for every source layer"),
            Parameter("generate", .int, summary: "how many tokens to decode (default 5)"),
            Parameter("map", .choice(["fit"], allowsInt: false), summary: "`fit`: map each source layer's state with an affine map fitted on the built-in text sample"),
        ],
        example: "patchscope \"The Eiffel Tower is in the city of\" position -1 target identity layers all generate 5",
        renamesAfter: ["target": ["model": "target_model"]],
        run: { arguments, context in
            let current = try context.session.currentModel(range: arguments.headRange)
            let model = try VerbArguments.model(arguments, "model", session: context.session, fallback: current)
            let targetModel = try VerbArguments.model(arguments, "target_model", session: context.session, fallback: model)
            guard let source = try arguments.prompt("S", session: context.session, model: model) else { return nil }
            let position = try VerbArguments.position(arguments, "position", prompt: source)
            let target = try PatchTarget.resolve(arguments, keyword: "target", session: context.session, model: targetModel)
            let layers = try VerbArguments.layers(arguments, model: model)
            let count = targetModel.config.layerCount
            let targetLayers: [Int]
            if let n = arguments.int("target_layer") {
                guard n >= 0, n < count else {
                    throw CommandError.outOfRange(what: "target_layer", value: n, valid: "`same` or 0..\(count - 1) (the model has \(count) layers)",
                                                  range: arguments.range(of: "target_layer"))
                }
                targetLayers = layers.map { _ in n }
            } else if arguments.word("target_layer") == "same" || model === targetModel {
                if let l = layers.first(where: { $0 >= count }) {
                    throw CommandError.outOfRange(what: "layer", value: l, valid: "0..\(count - 1) in \(targetModel.name) for `target_layer same`",
                                                  range: arguments.range(of: "target_layer"))
                }
                targetLayers = layers
            } else {
                targetLayers = layers.map { sameDepth($0, from: model.config.layerCount, to: count) }
            }
            let pairs = Array(zip(layers, targetLayers))
            let map: MapChoice = arguments.word("map") == "fit" ? .fit
                : try MapChoice.read(arguments, session: context.session, source: model, target: targetModel, pairs: pairs)
            let steps = try generateCount(arguments, default: 5)
            let (result, resolved, notes) = try CommandError.catching(at: arguments.range(of: "target")) {
                let maps = try map.maps(session: context.session, source: model, target: targetModel, pairs: pairs, task: context.task)
                let (result, resolved) = try compute(source: source, position: position, target: target, layers: layers,
                                                     targetLayers: targetLayers, steps: steps, model: model, targetModel: targetModel,
                                                     maps: maps, task: context.task)
                let notes = try ResultNotes.patch(model: model, source: source, sourcePosition: position, sourceLayers: layers,
                                                  target: resolved, targetModel: targetModel, atPlaceholder: target.isPreset,
                                                  targetLayers: Array(Set(targetLayers)).sorted(), task: context.task)
                return (result, resolved, notes)
            }
            return VerbResults.noting(render(result, target: resolved, source: source, model: targetModel, sourceModel: model), notes)
        })

    /// The layer of a `to`-layer model at the same relative depth as `layer` of a `from`-layer one.
    static func sameDepth(_ layer: Int, from: Int, to: Int) -> Int {
        guard from > 1 else { return to - 1 }
        return min(to - 1, Int((Double(layer) * Double(to - 1) / Double(from - 1)).rounded()))
    }

    /// `generate N`, checked (1…64).
    static func generateCount(_ arguments: BoundArguments, default value: Int) throws -> Int {
        let n = arguments.int("generate") ?? value
        guard n >= 1, n <= 64 else {
            throw CommandError.outOfRange(what: "generate", value: n, valid: "1..64", range: arguments.range(of: "generate"))
        }
        return n
    }

    // MARK: - Running

    /// The Patchscope sweep over `layers`, the target resolved to tokens and a position.
    static func compute(source: PromptValue, position: Int, target: PatchTarget, layers: [Int], targetLayers: [Int],
                        steps: Int, model: LoadedModel, targetModel: LoadedModel, maps: [AffineMap]?,
                        task: TaskContext) throws -> (PatchscopeResult, ResolvedTarget) {
        let resolved = try target.resolved(position: nil, model: targetModel)
        let result = try Patchscope.sweep(model: targetModel.model, source: source.ids, sourcePosition: position, sourceLayers: layers,
                                          target: resolved.ids, targetPosition: resolved.position,
                                          targetLayer: .each(targetLayers), decoding: .generate(steps), maps: maps,
                                          sourceModel: model.model, tokenizer: targetModel.tokenizer, context: task)
        return (result, resolved)
    }

    // MARK: - Rendering

    /// A table (layer → decoded text) and a heatmap strip (the first decoded token per layer, coloured by
    /// its probability); the vnd JSON carries both plus every row's ids, text and first-token top 5.
    static func render(_ result: PatchscopeResult, target: ResolvedTarget, source: PromptValue, model: LoadedModel,
                       sourceModel: LoadedModel? = nil) -> Value {
        let sourceToken = visibleToken(source.tokens[result.sourcePosition])
        let showTargetLayer = result.rows.contains { $0.targetLayer != $0.sourceLayer }
        var columns: [Table.Column] = [.init("layer", alignment: .right)]
        if showTargetLayer { columns.append(.init("target layer", alignment: .right)) }
        columns += [.init("decoded", wraps: true), .init("first token"), .init("p(first)", alignment: .right)]
        let tableRows: [[Table.Cell]] = result.rows.map { row in
            var cells: [Table.Cell] = [.number(Double(row.sourceLayer), .integer)]
            if showTargetLayer { cells.append(.number(Double(row.targetLayer), .integer)) }
            let p = row.first.map { Double($0.probability) } ?? .nan
            cells += [.token(row.text), .token(row.first.map { model.tokenizer.piece(Int32($0.id)) } ?? ""),
                      .number(p, .fixed(3), intensity: p)]
            return cells
        }
        let placeholder = visibleToken(target.tokens[safe: target.position] ?? "?")
        let table = Table(title: "Patchscope: \(sourceToken) (position \(result.sourcePosition)) of \(source.summary) → \(target.name)",
                          columns: columns, rows: tableRows,
                          caption: "target \(quoted(target.text)), patched at position \(target.position) (\(placeholder)); resid_post, greedy decoding",
                          kind: "patchscope_table")
        let heatmap = Heatmap(
            title: "Patchscope first decoded token by source layer (\(target.name))", xLabel: "source layer", yLabel: "",
            rowLabels: ["first token"], columnLabels: result.rows.map { String($0.sourceLayer) },
            values: [result.rows.map { row in row.first.map { Double($0.probability) } ?? .nan }],
            cellText: [result.rows.map { row in visibleToken(row.first.map { model.tokenizer.piece(Int32($0.id)) } ?? "") }],
            scale: .sequential, range: .fixed(0, 1), valueLabel: "p(first token)", valueFormat: .fixed(2),
            kind: "patchscope_heatmap")

        var bundle = MimeBundle.combining([table.mimeBundle, heatmap.mimeBundle])
        let json: JSONOut = .object([
            ("kind", .string("group")),
            ("items", .array([table.json, heatmap.json])),
            ("analysis", .string("patchscope")),
            ("source", VerbResults.promptJSON(source)),
            ("source_position", .int(result.sourcePosition)),
            ("target", target.json),
            ("layers", .array(result.rows.map { .int($0.sourceLayer) })),
            ("target_layers", .array(result.rows.map { .int($0.targetLayer) })),
            ("ids", .array(result.rows.map { row in .array(row.generatedIDs.map { .int($0) }) })),
            ("tokens", .array(result.rows.map { row in .strings(row.generatedIDs.map { model.tokenizer.piece(Int32($0)) }) })),
            ("texts", .strings(result.rows.map(\.text))),
            ("first", VerbResults.scoresJSON(result.rows.map(\.top))),
            ("mapped", .bool(result.mapped)),
            ("model", .string(model.name)),
            ("source_model", .string((sourceModel ?? model).name)),
        ])
        bundle.json = json
        return .result(RenderedResult(typeName: "Patchscope", summary: "Patchscope over \(result.rows.count) layers", bundle: bundle,
                                      parts: [table.mimeBundle, heatmap.mimeBundle]))
    }
}

fileprivate extension Array {
    /// The element at `index`, or nil when out of bounds.
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
