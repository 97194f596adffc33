import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `patchscope S position I [target T] [layers R] [target_layer same|N] [generate N]`: one Patchscope per
/// source layer.
enum PatchscopeCommand {
    static let spec = CommandSpec(
        name: "patchscope",
        group: .patching,
        synopsis: "patchscope S position I [target T] [layers R] [target_layer same|N] [generate N]",
        description: "The Patchscope sweep: for each source layer, takes the hidden state (`resid_post`) of the source prompt at one position, writes it into the target prompt's run at the same layer (or `target_layer N`) at the target's placeholder, and lets the model decode it. The target is a prompt (patched at its last token) or a preset: `identity` (\"cat -> cat; 1135 -> 1135; hello -> hello; ? ->\", the default), `description` (the paper's few-shot entity description) or `attribute \"The capital city of x\"`. The patch is written during the prompt pass; generated tokens see it through the KV cache, as in the Patchscopes reference code. Output: a table, layer → decoded text, and a heatmap of each decoded token's probability. Interrupt stops it between layers.",
        positionals: [
            Parameter("S", .prompt, required: true, summary: "the source prompt"),
            Parameter("text", .string, summary: "the template after `target attribute`, e.g. \"The capital city of x\""),
        ],
        keywords: [
            Parameter("position", .positions, summary: "the source token (default -1, the last)"),
            Parameter("target", .name, summary: "identity (default), description, attribute \"…x…\", or a prompt",
                      completions: { _, _ in PatchTarget.presets }),
            Parameter("layers", .layers, summary: "source layers (default all)"),
            Parameter("target_layer", .choice(["same"], allowsInt: true), summary: "`same` (default) or one target layer for every source layer"),
            Parameter("generate", .int, summary: "how many tokens to decode (default 5)"),
        ],
        example: "patchscope \"The Eiffel Tower is in the city of\" position -1 target identity layers all generate 5",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let source = try arguments.prompt("S", session: context.session, model: model) else { return nil }
            let position = try VerbArguments.position(arguments, "position", prompt: source)
            let target = try PatchTarget.resolve(arguments, keyword: "target", session: context.session, model: model)
            let layers = try VerbArguments.layers(arguments, model: model)
            var targetLayer: Int?
            if let n = arguments.int("target_layer") {
                let count = model.config.layerCount
                guard n >= 0, n < count else {
                    throw CommandError.outOfRange(what: "target_layer", value: n, valid: "`same` or 0..\(count - 1) (the model has \(count) layers)",
                                                  range: arguments.range(of: "target_layer"))
                }
                targetLayer = n
            }
            let steps = try generateCount(arguments, default: 5)
            let (result, resolved, notes) = try CommandError.catching(at: arguments.range(of: "target")) {
                let (result, resolved) = try compute(source: source, position: position, target: target, layers: layers,
                                                     targetLayer: targetLayer, steps: steps, model: model, task: context.task)
                let notes = try ResultNotes.patch(model: model, source: source, sourcePosition: position, sourceLayers: layers,
                                                  target: resolved, atPlaceholder: target.isPreset,
                                                  targetLayers: targetLayer.map { [$0] } ?? layers, task: context.task)
                return (result, resolved, notes)
            }
            return VerbResults.noting(render(result, target: resolved, source: source, model: model), notes)
        })

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
    static func compute(source: PromptValue, position: Int, target: PatchTarget, layers: [Int], targetLayer: Int?,
                        steps: Int, model: LoadedModel, task: TaskContext) throws -> (PatchscopeResult, ResolvedTarget) {
        let resolved = try target.resolved(position: nil, model: model)
        let result = try Patchscope.sweep(model: model.model, source: source.ids, sourcePosition: position, sourceLayers: layers,
                                          target: resolved.ids, targetPosition: resolved.position,
                                          targetLayer: targetLayer.map { .fixed($0) } ?? .same, decoding: .generate(steps),
                                          tokenizer: model.tokenizer, context: task)
        return (result, resolved)
    }

    // MARK: - Rendering

    /// A table (layer → decoded text) and a heatmap strip (the first decoded token per layer, coloured by
    /// its probability); the vnd JSON carries both plus every row's ids, text and first-token top 5.
    static func render(_ result: PatchscopeResult, target: ResolvedTarget, source: PromptValue, model: LoadedModel) -> Value {
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
