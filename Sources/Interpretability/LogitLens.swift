import Foundation
import Transformer

// MARK: - Result

/// The logit lens over layers × positions: the top-K tokens of every cell.
public struct LogitLensResult: Sendable, Equatable {
    public var hook: HookSite
    public var layers: [Int]
    public var positions: [Int]
    /// The prompt's token ids and texts (every position, not only the selected ones).
    public var promptIDs: [Int]
    public var promptTokens: [String]
    /// `cells[i][j]` is the top-K of `layers[i]` at `positions[j]`, most likely first.
    public var cells: [[[TokenScore]]]

    /// The most likely token of each cell, `[layers][positions]`.
    public var top1IDs: [[Int]] { cells.map { row in row.map { $0.first?.id ?? -1 } } }
    /// Its probability, `[layers][positions]`.
    public var top1Probabilities: [[Float]] { cells.map { row in row.map { $0.first?.probability ?? .nan } } }
}

// MARK: - Logit lens

/// The logit lens: each selected residual state through the final norm and the unembedding.
public enum LogitLens {
    /// Runs `prompt` once, keeping the residual stream at `hook` for the selected cells, and reads
    /// each out. `layers` and `positions` default to all; negative positions count from the end.
    public static func run(model: Model, prompt: [Int], layers: [Int]? = nil, positions: [Int]? = nil,
                           top k: Int = 1, hook: HookSite = .residPost, tuned: TunedLens? = nil,
                           tokenizer: Tokenizer? = nil, context: TaskContext = .none) throws -> LogitLensResult {
        let c = model.config
        try Check.prompt(prompt)
        let layers = layers ?? Array(0..<c.layerCount)
        try Check.layers(layers, c)
        let positions = try Check.positions(positions ?? Array(prompt.indices), count: prompt.count, role: "lens")
        guard k >= 1, k <= c.vocabularySize else {
            throw AnalysisError.intOutOfRange(name: "top", value: k, lowest: 1, highest: c.vocabularySize)
        }

        // One forward pass; each selected layer's hook copies the selected rows out.
        let d = c.modelDim
        var states = [Float](repeating: 0, count: layers.count * positions.count * d)   // [layers, positions, d_model]
        let hooks = HookSet()
        var rowsOfLayer: [Int: [Int]] = [:]
        for (i, l) in layers.enumerated() { rowsOfLayer[l, default: []].append(i) }
        for (l, indices) in rowsOfLayer {
            hooks.add(hook.point(l)) { view in
                for i in indices {
                    for (j, p) in positions.enumerated() {
                        guard let t = view.windowRow(batch: 0, absolutePosition: p) else { continue }
                        let row = view.row(batch: 0, position: t)
                        let base = (i * positions.count + j) * d
                        for e in 0..<d { states[base + e] = row[e] }
                    }
                }
            }
        }
        let deepest = layers.max() ?? 0
        try model.run(prompt, hooks: hooks, through: deepest,
                          context: context.stage(0, of: 2, label: "forward pass"))

        // A tuned lens first translates each layer's states into the last layer's basis.
        if let tuned {
            guard tuned.layerCount == c.layerCount, tuned.width == d, hook == .residPost else {
                throw AnalysisError.tunedLensMismatch(lensLayers: tuned.layerCount, lensWidth: tuned.width, layers: c.layerCount, width: d,
                                                      hook: hook.rawValue)
            }
            for (i, l) in layers.enumerated() {
                let range = (i * positions.count * d)..<((i + 1) * positions.count * d)
                states.replaceSubrange(range, with: tuned.translate(Array(states[range]), rows: positions.count, layer: l))
            }
        }
        // Read out all cells at once: Model.topTokens chunks the unembedding itself.
        let rows = layers.count * positions.count
        let flat = try model.topTokens(ofResiduals: states, rows: rows, k: k, tokenizer: tokenizer,
                                           context: context.stage(1, of: 2, label: "read-out"))
        let cells = layers.indices.map { i in Array(flat[i * positions.count..<(i + 1) * positions.count]) }
        return LogitLensResult(hook: hook, layers: layers, positions: positions, promptIDs: prompt,
                               promptTokens: prompt.map { TokenScore.label($0, tokenizer) }, cells: cells)
    }

    /// Reads out residual vectors already at hand (e.g. cached activations): the top `k` of each.
    public static func read(model: Model, states: [[Float]], top k: Int = 1,
                            tokenizer: Tokenizer? = nil, context: TaskContext = .none) throws -> [[TokenScore]] {
        let d = model.config.modelDim
        for s in states where s.count != d { throw AnalysisError.widthMismatch(expected: d, found: s.count) }
        guard k >= 1 else { throw AnalysisError.intOutOfRange(name: "top", value: k, lowest: 1, highest: model.config.vocabularySize) }
        guard !states.isEmpty else { return [] }
        return try model.topTokens(ofResiduals: Array(states.joined()), rows: states.count, k: k, tokenizer: tokenizer, context: context)
    }
}
