import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `patch source S [model m1] layer L position I into T [model m2] [layer L2] [position I2] [generate N | top K] [map M | map fit]`:
/// one general Patchscope.
enum PatchCommand {
    static let spec = CommandSpec(
        name: "patch",
        group: .patching,
        synopsis: "patch source S [model m1] layer L position I into T [model m2] [layer L2] [position I2] [generate N | top K] [map M | map fit]",
        description: "The general Patchscope: takes the hidden state (`resid_post` of block L) of the source prompt at position I, run on model m1 (default the current model), optionally maps it (`map M`: a Map from `fit map`; `map fit`: one fitted now from layer L to the target layer on the built-in text sample, kept for the session), writes it into the run of the target T on model m2 (`model` after `into`; default m1) at block L2 (`layer` after `into`, also spelt `target_layer`; default L) and position I2 (`position` after `into`, also spelt `target_position`; default the placeholder of a preset, else the last token), and decodes: `generate N` tokens (default 5; later tokens see the patch through the KV cache) or the `top K` next tokens. T is a prompt or a preset: `identity`, `description` or `attribute \"The capital city of x\"`. Two models of different widths need a map.",
        positionals: [
            Parameter("text", .string, summary: "the template after `into attribute`, e.g. \"The capital city of x\""),
        ],
        keywords: [
            Parameter("source", .prompt, required: true, summary: "the source prompt"),
            Parameter("model", .name, summary: "the source model: a Model variable or a loaded model's name (default the current model)"),
            Parameter("layer", .int, required: true, summary: "the source layer"),
            Parameter("position", .positions, summary: "the source token (default -1, the last)"),
            Parameter("into", .name, required: true, summary: "the target: a prompt, identity, description or attribute \"…x…\"",
                      completions: { _, _ in PatchTarget.presets }),
            Parameter("target_model", .name, summary: "the target model (`model` after `into`; default the source model)"),
            Parameter("target_layer", .int, summary: "the target layer (default: the source layer)"),
            Parameter("target_position", .positions, summary: "the target token (default: the preset's placeholder, else the last token)"),
            Parameter("generate", .int, summary: "decode N tokens (default 5)"),
            Parameter("top", .int, summary: "show the top K next tokens instead of generating"),
            Parameter("map", .name, summary: "a Map variable, or `fit` to fit one from the source to the target layer on the built-in text sample"),
        ],
        example: "patch source \"The Eiffel Tower\" layer 8 position -1 into attribute \"The capital city of x\" generate 6",
        renamesAfter: ["into": ["layer": "target_layer", "position": "target_position", "model": "target_model"]],
        run: { arguments, context in
            let current = try context.session.currentModel(range: arguments.headRange)
            let model = try VerbArguments.model(arguments, "model", session: context.session, fallback: current)
            let targetModel = try VerbArguments.model(arguments, "target_model", session: context.session, fallback: model)
            guard let source = try arguments.prompt("source", session: context.session, model: model),
                  let layer = try VerbArguments.layer(arguments, "layer", model: model) else { return nil }
            let position = try VerbArguments.position(arguments, "position", prompt: source)
            let target = try PatchTarget.resolve(arguments, keyword: "into", session: context.session, model: targetModel)
            let targetLayer = try VerbArguments.layer(arguments, "target_layer", model: targetModel) ?? layer
            if !arguments.has("target_layer"), layer >= targetModel.config.layerCount {
                throw CommandError.outOfRange(what: "layer", value: layer,
                                              valid: "0..\(targetModel.config.layerCount - 1) in \(targetModel.name); give the target layer after `into`",
                                              range: arguments.range(of: "layer"))
            }
            var targetPosition: Int?
            if arguments.has("target_position") {
                guard case .prompt(let prompt) = target else {
                    throw CommandError.inapplicableKeyword("target_position", appliesTo: "a target prompt (a preset target is patched at its placeholder)",
                                                           range: arguments.range(of: "target_position"))
                }
                targetPosition = try VerbArguments.position(arguments, "target_position", prompt: prompt)
            }
            if arguments.has("generate"), arguments.has("top") {
                throw CommandError.conflictingArguments("`generate N`", "`top K`", range: arguments.range(of: "top"))
            }
            var top: Int?
            if let k = arguments.int("top") {
                guard k >= 1, k <= 100 else {
                    throw CommandError.outOfRange(what: "top", value: k, valid: "1..100", range: arguments.range(of: "top"))
                }
                top = k
            }
            let steps = try PatchscopeCommand.generateCount(arguments, default: 5)
            let map = try MapChoice.read(arguments, session: context.session, source: model, target: targetModel,
                                         pairs: [(layer, targetLayer)])
            let request = Request(source: source, layer: layer, position: position, target: target, targetLayer: targetLayer,
                                  targetPosition: targetPosition, steps: steps, top: top, map: map)
            let (result, resolved, notes) = try CommandError.catching(at: arguments.range(of: "into")) {
                let (result, resolved) = try compute(request, model: model, targetModel: targetModel, session: context.session,
                                                     task: context.task)
                let notes = try ResultNotes.patch(model: model, source: source, sourcePosition: position, sourceLayers: [layer],
                                                  target: resolved, targetModel: targetModel,
                                                  atPlaceholder: target.isPreset && targetPosition == nil,
                                                  targetLayers: [targetLayer], task: context.task)
                return (result, resolved, notes)
            }
            return VerbResults.noting(render(result, target: resolved, request: request, model: targetModel), notes)
        })

    /// A checked `patch`.
    struct Request {
        var source: PromptValue
        var layer: Int
        var position: Int
        var target: PatchTarget
        var targetLayer: Int
        var targetPosition: Int?
        var steps: Int
        /// `top K` instead of generating.
        var top: Int?
        var map: MapChoice
    }

    /// Fits the affine map if asked, then runs the one patch.
    static func compute(_ request: Request, model: LoadedModel, targetModel: LoadedModel, session: Session,
                        task: TaskContext) throws -> (PatchscopeResult, ResolvedTarget) {
        let target = try request.target.resolved(position: request.targetPosition, model: targetModel)
        let maps = try request.map.maps(session: session, source: model, target: targetModel,
                                        pairs: [(request.layer, request.targetLayer)], task: task)
        let result = try Patchscope.patch(model: targetModel.model, source: request.source.ids, sourceLayer: request.layer,
                                          sourcePosition: request.position, target: target.ids, targetLayer: request.targetLayer,
                                          targetPosition: target.position,
                                          decoding: request.top.map { .top($0) } ?? .generate(request.steps), map: maps?.first,
                                          sourceModel: model.model, tokenizer: targetModel.tokenizer, context: task)
        return (result, target)
    }

    // MARK: - Rendering

    /// A table of the decoded tokens (or the top-K) with their probabilities.
    static func render(_ result: PatchscopeResult, target: ResolvedTarget, request: Request, model: LoadedModel) -> Value {
        guard let row = result.rows.first else {
            return .result(RenderedResult(typeName: "Table", summary: "empty patch", bundle: MimeBundle(plain: "(nothing decoded)")))
        }
        let piece = { (id: Int) in model.tokenizer.piece(Int32(id)) }
        let sourceToken = visibleToken(request.source.tokens[result.sourcePosition])
        let title = "Patch: \(sourceToken) (position \(result.sourcePosition), layer \(row.sourceLayer)) of \(request.source.summary) → "
            + "\(target.name), layer \(row.targetLayer), position \(target.position)" + (result.mapped ? ", affine map" : "")
        let rank = request.top != nil
        let rows: [[Table.Cell]]
        if rank {
            rows = row.top.enumerated().map { i, score in
                let p = Double(score.probability)
                return [.number(Double(i + 1), .integer), .token(piece(score.id)), .number(Double(score.id), .integer),
                        .number(p, .fixed(4), intensity: p)]
            }
        } else {
            // Only the first step's probability is known; later steps show the token alone.
            rows = row.generatedIDs.enumerated().map { i, id in
                let p = i == 0 ? row.first.map { Double($0.probability) } : nil
                return [.number(Double(i + 1), .integer), .token(piece(id)), .number(Double(id), .integer),
                        p.map { .number($0, .fixed(4), intensity: $0) } ?? .empty]
            }
        }
        let table = Table(title: title,
                          columns: [.init(rank ? "#" : "step", alignment: .right), .init("token"), .init("id", alignment: .right),
                                    .init("prob", alignment: .right)],
                          rows: rows,
                          caption: rank ? "top \(row.top.count) next tokens of the patched target \(quoted(target.text))"
                                        : "decoded: \(quoted(row.text)) — target \(quoted(target.text))",
                          kind: rank ? "patch_top" : "patch_generate")
        let shown: [Int] = rank ? row.top.map { $0.id } : row.generatedIDs
        let extra: [(String, JSONOut)] = [
            ("analysis", .string("patch")),
            ("mode", .string(rank ? "top" : "generate")),
            ("source", VerbResults.promptJSON(request.source)),
            ("source_layer", .int(row.sourceLayer)),
            ("source_position", .int(result.sourcePosition)),
            ("target", target.json),
            ("target_layer", .int(row.targetLayer)),
            ("mapped", .bool(result.mapped)),
            ("ids", .array(shown.map { .int($0) })),
            ("tokens", .strings(shown.map(piece))),
            ("probs", rank ? .nums(row.top.map { Double($0.probability) }) : .nums(row.first.map { [Double($0.probability)] } ?? [])),
            ("text", .string(rank ? "" : row.text)),
            ("first", VerbResults.scoresJSON([row.top])),
            ("model", .string(model.name)),
        ]
        return VerbResults.result(table.mimeBundle, json: table.json, extra: extra, typeName: "Table",
                                  summary: rank ? "patched top \(row.top.count)" : "patched decoding \(quoted(row.text))")
    }
}
