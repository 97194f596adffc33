import Foundation
import Transformer

// MARK: - Reading the residual stream of many prompts

/// How a prompt's per-position states become one vector.
public enum PositionReduction: String, Sendable, Equatable {
    /// The state at the last token.
    case last
    /// The mean over every token position.
    case mean
}

/// Reads `blocks.{l}.hook_resid_post` for many prompts at once.
public enum ResidualReader {
    /// The reduced `resid_post` of every prompt at every layer in `layers`: result[layer index][prompt] is
    /// a `d_model` vector.
    ///
    /// Prompts of equal length run together as one batch (up to `batchSize` at a time), so 200 short
    /// prompts cost a handful of forward passes; no logits are computed. The forward pass stops early
    /// once the deepest requested layer is read. Reports progress in prompts and honours cancellation.
    public static func residPost(model: Model, prompts: [[Int]], layers: [Int], reduction: PositionReduction,
                                 batchSize: Int = 32, context: TaskContext = .none) throws -> [[[Float]]] {
        try read(model: model, prompts: prompts, layers: layers, reduction: reduction, batchSize: batchSize,
                 context: context).states
    }

    /// The reduced states and the massive-activation positions they include.
    public struct Reading: Sendable {
        /// states[layer index][prompt]: a `d_model` vector.
        public var states: [[[Float]]]
        /// Every state read (the last one, or each one in a mean) that is massive under `profile`.
        public var massive: [MassiveReading]
    }

    /// As `residPost`, also naming each state read at a massive-activation position under `profile`
    /// (none when it is nil).
    public static func read(model: Model, prompts: [[Int]], layers: [Int], reduction: PositionReduction,
                            profile: MassiveActivations? = nil, batchSize: Int = 32,
                            context: TaskContext = .none) throws -> Reading {
        let c = model.config
        for l in layers where l < 0 || l >= c.layerCount { throw AnalysisError.layerOutOfRange(l, layerCount: c.layerCount) }
        guard prompts.allSatisfy({ !$0.isEmpty }) else { throw AnalysisError.emptyPrompt }
        let d = c.modelDim
        var out = [[[Float]]](repeating: [[Float]](repeating: [], count: prompts.count), count: layers.count)
        var massive: [MassiveReading] = []
        guard !prompts.isEmpty, !layers.isEmpty, let deepest = layers.max() else { return Reading(states: out, massive: []) }
        let slot = Dictionary(uniqueKeysWithValues: layers.enumerated().map { ($1, $0) })

        // Group prompt indices by length, then cut each group into batches.
        var groups: [Int: [Int]] = [:]
        for (i, p) in prompts.enumerated() { groups[p.count, default: []].append(i) }
        var batches: [[Int]] = []
        for length in groups.keys.sorted() {
            let members = groups[length] ?? []
            var start = 0
            while start < members.count {
                batches.append(Array(members[start..<min(start + batchSize, members.count)]))
                start += batchSize
            }
        }

        var done = 0
        // The forward pass's own progress is per layer; ours is per prompt, so it runs quietly.
        let quiet = TaskContext(isCancelled: { context.isCancelled })
        for batch in batches {
            try context.checkCancelled()
            let hooks = HookSet()
            for l in Set(layers) {
                hooks.add(.residPost(l)) { view in
                    guard let k = slot[l] else { return }
                    for (b, promptIndex) in batch.enumerated() {
                        var v = [Float](repeating: 0, count: d)
                        let note = { (t: Int, row: UnsafeMutableBufferPointer<Float>) in
                            guard let profile else { return }
                            let r = RMSScan.rms(row)
                            if profile.isMassive(rms: r, layer: l) {
                                massive.append(MassiveReading(prompt: promptIndex, position: t, layer: l, rms: r,
                                                              ratio: profile.ratio(rms: r, layer: l)))
                            }
                        }
                        switch reduction {
                        case .last:
                            let row = view.row(batch: b, position: view.positions - 1)
                            for j in 0..<d { v[j] = row[j] }
                            note(view.positions - 1, row)
                        case .mean:
                            for t in 0..<view.positions {
                                let row = view.row(batch: b, position: t)
                                for j in 0..<d { v[j] += row[j] }
                                note(t, row)
                            }
                            let inv = 1 / Float(view.positions)
                            for j in 0..<d { v[j] *= inv }
                        }
                        out[k][promptIndex] = v
                    }
                }
            }
            var caches = batch.map { _ in model.makeCache() }
            // The blocks above the deepest wanted layer are not run.
            _ = try model.forward(batch.map { prompts[$0] }, caches: &caches, hooks: hooks, logits: .none,
                                  stopAfterLayer: deepest, context: quiet)
            done += batch.count
            context.report(Double(done) / Double(prompts.count), "prompt \(done)/\(prompts.count)")
        }
        massive.sort { ($0.layer, $0.prompt, $0.position) < ($1.layer, $1.prompt, $1.position) }
        return Reading(states: out, massive: massive)
    }
}

// MARK: - Directions

/// A direction in the residual stream: a `d_model` vector with where it came from.
public struct SteeringVector: Sendable, Equatable {
    /// The numbers (`d_model` of them).
    public var values: [Float]
    /// The block whose `resid_post` it was read from (where steering adds it by default).
    public var layer: Int
    /// A short human description, e.g. `"Love" − "Hate" @ layer 6`.
    public var label: String
    /// The states it was made from that sit at massive-activation positions (prompt indices count
    /// the positive prompts first, then the negative ones).
    public var massive: [MassiveReading]

    public init(values: [Float], layer: Int, label: String, massive: [MassiveReading] = []) {
        self.values = values; self.layer = layer; self.label = label; self.massive = massive
    }

    /// The Euclidean norm.
    public var norm: Double { Double(values.reduce(Float(0)) { $0 + $1 * $1 }).squareRoot() }
}

/// Difference-of-means directions (ActAdd, representation engineering).
public enum Direction {
    /// mean over `positive` of resid_post(layer) − mean over `negative` of resid_post(layer), each prompt
    /// reduced to one vector at its last position or averaged over its positions.
    public static func meanDifference(model: Model, positive: [[Int]], negative: [[Int]], layer: Int,
                                      reduction: PositionReduction = .last, label: String = "",
                                      profile: MassiveActivations? = nil,
                                      context: TaskContext = .none) throws -> SteeringVector {
        guard !positive.isEmpty else { throw AnalysisError.noPrompts("positive") }
        guard !negative.isEmpty else { throw AnalysisError.noPrompts("negative") }
        let reading = try ResidualReader.read(model: model, prompts: positive + negative, layers: [layer],
                                              reduction: reduction, profile: profile, context: context)
        let states = reading.states[0]
        let plus = mean(Array(states[..<positive.count]))
        let minus = mean(Array(states[positive.count...]))
        return SteeringVector(values: zip(plus, minus).map { $0 - $1 }, layer: layer, label: label, massive: reading.massive)
    }

    /// The element-wise mean of equal-length vectors (accumulated in Double).
    public static func mean(_ vectors: [[Float]]) -> [Float] {
        guard let first = vectors.first else { return [] }
        var sum = [Double](repeating: 0, count: first.count)
        for v in vectors { for j in 0..<min(v.count, sum.count) { sum[j] += Double(v[j]) } }
        return sum.map { Float($0 / Double(vectors.count)) }
    }
}
