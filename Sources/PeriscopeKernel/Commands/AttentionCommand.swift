import Foundation
import Rendering
import Transformer

/// `attention p layer L [head H]`: attention patterns, query × key.
enum AttentionCommand {
    static let spec = CommandSpec(
        name: "attention",
        group: .lenses,
        synopsis: "attention p layer L [head H]",
        description: "Shows the attention pattern of a layer: for each query token (rows), how much it attends to each earlier key token (columns), after the softmax. One heatmap for `head H`, or all heads as a grid sharing one colour scale. The pattern comes from the prompt's cached run (`run p` caches it; otherwise one forward pass does). The data carries the pattern values, `[query][key]` per head. On long prompts (over 40,000 cells for one head, 12,000 for the grid) tiles of tokens are shown by their largest weight, and the data says so under `pooled`; give `head H` or a shorter prompt to see every token.",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt")],
        keywords: [
            Parameter("layer", .int, required: true, summary: "which layer"),
            Parameter("head", .int, summary: "one head (default: all heads as a grid)"),
        ],
        example: "attention \"The Eiffel Tower is in the city of\" layer 5 head 3",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let prompt = try arguments.prompt("p", session: context.session, model: model),
                  let layer = try VerbArguments.layer(arguments, "layer", model: model) else { return nil }
            let headCount = model.config.headCount
            var heads = Array(0..<headCount)
            if let head = arguments.int("head") {
                guard head >= 0, head < headCount else {
                    throw CommandError.outOfRange(what: "head", value: head,
                                                  valid: "0..\(headCount - 1) (the model has \(headCount) heads per layer)",
                                                  range: arguments.range(of: "head"))
                }
                heads = [head]
            }
            var evicted: [CachedRun] = []
            let run = try context.session.cachedRun(prompt, model: model, points: [.pattern(layer)],
                                                    context: context.task, evicted: &evicted)
            guard let tensor = run[.pattern(layer)] else {
                throw CommandError.notRecorded(hook: HookPoint.pattern(layer).name,
                                          range: arguments.headRange)
            }
            var patterns = heads.map { pattern(tensor, head: $0, heads: headCount) }
            // Long prompts: blocks of tokens pooled by their maximum, and 4 decimals, keep the output
            // well under 1 MB and quick to render, since the full grid grows with the square of the
            // prompt's length.
            let block = poolingBlock(tokens: prompt.ids.count, panels: heads.count)
            if block > 1 { patterns = patterns.map { maxPooled($0, block: block) } }
            let cells = patterns.reduce(0) { $0 + $1.count * $1.count }
            if cells > 20_000 {
                patterns = patterns.map { $0.map { $0.map { ($0 * 10_000).rounded() / 10_000 } } }
            }
            return render(patterns, heads: heads, layer: layer, prompt: prompt, model: model, block: block)
        })

    /// Most cells drawn: one head's heatmap costs about 9 bytes a cell (SVG and JSON); the grid of
    /// every head about 28 (its SVG is also the HTML, and pooled tiles have fewer runs of one colour).
    static func cellBudget(panels: Int) -> Int { panels == 1 ? 40_000 : 12_000 }

    /// Tokens per side of a pooled block: 1 while `panels` patterns of `tokens`² cells fit the budget.
    static func poolingBlock(tokens: Int, panels: Int) -> Int {
        let budget = cellBudget(panels: panels)
        guard tokens > 0, panels > 0, panels * tokens * tokens > budget else { return 1 }
        let side = max(1, Int(Double(budget / panels).squareRoot()))
        return (tokens + side - 1) / side
    }

    /// `pattern` in `block` × `block` tiles (the last ones shorter), each the largest weight in it:
    /// where a query attends sharply stays visible.
    static func maxPooled(_ pattern: [[Double]], block: Int) -> [[Double]] {
        let n = pattern.count, side = (n + block - 1) / block
        return (0..<side).map { bq in
            (0..<side).map { bk in
                var best = 0.0
                for q in (bq * block)..<min(n, (bq + 1) * block) {
                    for k in (bk * block)..<min(n, (bk + 1) * block) { best = max(best, pattern[q][k]) }
                }
                return best
            }
        }
    }

    /// One head's pattern `[query][key]` from a cached `[T, H, keys]` tensor.
    static func pattern(_ tensor: Tensor, head: Int, heads: Int) -> [[Double]] {
        let queries = tensor.shape.first ?? 0, keys = tensor.shape.last ?? 0
        return (0..<queries).map { q in
            let base = (q * heads + head) * keys
            return (0..<queries).map { k in k < keys ? Double(tensor.data[base + k]) : 0 }
        }
    }

    // MARK: - Rendering

    static func render(_ patterns: [[[Double]]], heads: [Int], layer: Int, prompt: PromptValue, model: LoadedModel,
                       block: Int = 1) -> Value {
        let n = prompt.tokens.count
        let labels = stride(from: 0, to: n, by: block).map { start -> String in
            let first = "\(start) " + visibleToken(prompt.tokens[start])
            return block == 1 ? first : "\(first) …\(min(n, start + block) - 1)"
        }
        var extra: [(String, JSONOut)] = [
            ("analysis", .string("attention")),
            ("layer", .int(layer)),
            ("heads", .array(heads.map { .int($0) })),
            ("tokens", .strings(prompt.tokens)),
            ("prompt", VerbResults.promptJSON(prompt)),
            ("model", .string(model.name)),
        ]
        // `block` > 1: each value is the largest weight of a block × block tile of tokens.
        extra.append(("pooled", block == 1 ? .null : .object([("block", .int(block)), ("reduction", .string("max"))])))
        let pooledNote = block == 1 ? ""
            : " (max over \(block)×\(block) token blocks; \(heads.count > 1 ? "`head H` or " : "")a shorter prompt shows every token)"
        let panels = zip(heads, patterns).map { head, values in
            Heatmap(title: "L\(layer) head \(head)", xLabel: "key", yLabel: "query", rowLabels: labels,
                    columnLabels: labels, values: values, scale: .sequential, range: .fixed(0, 1),
                    valueLabel: "attention", valueFormat: .fixed(2),
                    showValues: heads.count == 1 && labels.count <= 12, kind: "attention")
        }
        if panels.count == 1, let panel = panels.first {
            var single = panel
            single.title = "Attention, layer \(layer) head \(heads[0]) — \(prompt.summary)" + pooledNote
            return VerbResults.result(single.mimeBundle, json: single.json, extra: extra, typeName: "Heatmap",
                                      summary: "attention pattern of layer \(layer) head \(heads[0])")
        }
        let grid = HeatmapGrid(title: "Attention, layer \(layer), \(panels.count) heads — \(prompt.summary)" + pooledNote,
                               panels: panels, scale: .sequential, range: .fixed(0, 1), valueLabel: "attention",
                               valueFormat: .fixed(2), kind: "attention_grid")
        return VerbResults.result(grid.mimeBundle, json: grid.json, extra: extra, typeName: "HeatmapGrid",
                                  summary: "attention patterns of layer \(layer), \(panels.count) heads")
    }
}
