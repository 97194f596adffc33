import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `fit map m1 layer L to m2 layer L2 [on TEXTS] [ridge X] [split F]`: an affine map between two
/// residual streams.
enum FitCommand {
    static let defaultRidge = 1e-2
    static let defaultSplit = 0.8

    static let spec = CommandSpec(
        name: "fit",
        group: .patching,
        synopsis: "fit map m1 layer L to m2 layer L2 [on TEXTS] [ridge X] [split F]",
        description: "Fits an affine map `y = W·x + b` from `resid_post` of block L of model m1 to `resid_post` of block L2 of model m2 (the same model twice maps one layer to another) by ridge least squares on pairs of states of the same text: with one tokenizer, the same position; across two tokenizers, two tokens that end at the same character of the text. The first token of each text (an attention sink) is left out. TEXTS is a list of texts or a Dataset (default: the built-in text sample, a few hundred sentences run eight at a time). The first `split` share of the texts (default 0.8) fits the map, the rest score it. `ridge` (default 0.01) is relative to the inputs' mean variance; a map between equal widths shrinks toward the identity, otherwise toward zero. Displays the sizes, the pairs used, the held-out R² and mean cosine. Use it with `patch … map M`.",
        positionals: [],
        keywords: [
            Parameter("map", .name, required: true, summary: "the source model: a Model variable or a loaded model's name"),
            Parameter("layer", .int, required: true, summary: "the source layer"),
            Parameter("to", .name, required: true, summary: "the target model (the same one for a map between layers)"),
            Parameter("target_layer", .int, summary: "the target layer (`layer` after `to`; default: the source layer)"),
            Parameter("on", .value, summary: "texts to fit on: a list of texts or a Dataset (default: the built-in sample)"),
            Parameter("ridge", .float, summary: "ridge strength relative to the inputs' variance (default 0.01)"),
            Parameter("split", .float, summary: "share of the texts that fit the map; the rest score it (default 0.8)"),
        ],
        example: "M = fit map m layer 6 to m layer 12",
        renamesAfter: ["to": ["layer": "target_layer"]],
        run: { arguments, context in
            let current = try context.session.currentModel(range: arguments.headRange)
            let source = try VerbArguments.model(arguments, "map", session: context.session, fallback: current)
            let target = try VerbArguments.model(arguments, "to", session: context.session, fallback: current)
            guard let layer = try VerbArguments.layer(arguments, "layer", model: source) else { return nil }
            let targetLayer = try VerbArguments.layer(arguments, "target_layer", model: target) ?? layer
            if !arguments.has("target_layer"), layer >= target.config.layerCount {
                throw CommandError.outOfRange(what: "layer", value: layer, valid: "0..\(target.config.layerCount - 1) in \(target.name); give the target's layer after `to`",
                                              range: arguments.range(of: "to"))
            }
            let ridge = arguments.float("ridge") ?? defaultRidge
            guard ridge >= 0, ridge.isFinite else {
                throw CommandError.numberOutOfRange(what: "ridge", value: ridge, valid: "0 or more", range: arguments.range(of: "ridge"))
            }
            let split = arguments.float("split") ?? defaultSplit
            guard split > 0, split <= 1 else {
                throw CommandError.numberOutOfRange(what: "split", value: split, valid: "above 0 and at most 1 (the share of the texts that fit the map)",
                                                    range: arguments.range(of: "split"))
            }
            let texts = try FitTexts.from(arguments, "on")
            if split < 1, texts.texts.count < 2 {
                throw CommandError.nothingHeldOut(split: split, parameter: "on", range: arguments.range(of: "on"))
            }
            let (map, runs, forwardSeconds, solveSeconds) = try CommandError.catching(at: arguments.headRange) {
                let start = Date()
                let runs = try PairedRuns.collect(source: source.model, sourceTokenizer: source.tokenizer, sourceLayers: [layer],
                                                  target: target.model, targetTokenizer: target.tokenizer, targetLayers: [targetLayer],
                                                  texts: texts.texts, context: context.task.stage(0, of: 2, label: "forward passes"))
                let solving = Date()
                let map = try runs.fit(sourceLayer: layer, targetLayer: targetLayer, ridge: ridge, split: split,
                                       context: context.task.stage(1, of: 2, label: "solve"))
                return (map, runs, solving.timeIntervalSince(start), Date().timeIntervalSince(solving))
            }
            return .object(MapValue(map: map, sourceModel: source.name, sourcePath: source.path, targetModel: target.name,
                                    targetPath: target.path, textsLabel: texts.label, forwardPasses: runs.forwardPasses,
                                    tokens: runs.tokens, forwardSeconds: forwardSeconds, solveSeconds: solveSeconds))
        })
}
