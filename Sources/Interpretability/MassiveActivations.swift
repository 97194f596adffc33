import Foundation
import Transformer

// MARK: - Massive activations (the attention sink)

/// Where a model parks its attention sink: positions whose residual stream grows far larger than
/// every other position's (Sun et al. 2024, "Massive Activations in Large Language Models"). It is
/// the BOS token when the model adds one, else the first token (SmolLM2 adds no BOS: its first
/// token's `resid_post` reaches an RMS over a hundred times the median from its early layers on).
///
/// A state read there is nearly the same whatever the token, and so large that it decides any
/// mean, difference, principal component or noise scale it enters. The profile is measured once
/// per model on a fixed calibration text: the median RMS of `resid_post` at each layer. A state
/// is massive when its RMS is at least `threshold` times its layer's median.
public struct MassiveActivations: Sendable, Equatable {
    /// A state at least this many times its layer's median RMS is massive.
    public static let threshold = 20.0

    /// The median RMS of `resid_post` over the calibration text's positions, per layer.
    public var medianRMS: [Double]
    /// The calibration text's position-0 RMS over its layer's median, per layer.
    public var firstPositionRatio: [Double]

    /// The first layer whose `resid_post` at the calibration text's first position is massive.
    public var sinkLayer: Int? { firstPositionRatio.firstIndex { $0 >= Self.threshold } }

    /// A state's RMS over its layer's median.
    public func ratio(rms: Double, layer: Int) -> Double {
        guard medianRMS.indices.contains(layer), medianRMS[layer] > 0 else { return 0 }
        return rms / medianRMS[layer]
    }

    /// Whether a state of this RMS at `layer` is massive.
    public func isMassive(rms: Double, layer: Int) -> Bool { ratio(rms: rms, layer: layer) >= Self.threshold }

    /// The text the profile is measured on: ordinary sentences, long enough for a stable median.
    public static let calibrationText = "The museum opened its doors at nine, and a long line of visitors had already formed. "
        + "She poured the tea slowly while the rain kept falling on the roof. "
        + "In 1905 the young physicist published four papers that changed how we think about light and time."

    /// The profile of `model`, measured on `calibrationText` tokenised as `tokens` (BOS included
    /// when the model adds one), once per model.
    public static func profile(model: Model, calibrationTokens tokens: [Int]) throws -> MassiveActivations {
        try ProfileCache.shared.profile(model) {
            let rms = try RMSScan.run(model: model, prompt: tokens, layers: Array(0..<model.config.layerCount))
            return MassiveActivations(
                medianRMS: rms.map { median($0) },
                firstPositionRatio: rms.map { row in
                    let m = median(row)
                    return m > 0 ? (row.first ?? 0) / m : 0
                })
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// A state that was read at a massive-activation position.
public struct MassiveReading: Sendable, Equatable {
    /// Which of the prompts read (its index in the list given).
    public var prompt: Int
    public var position: Int
    public var layer: Int
    /// The state's RMS and that over its layer's median RMS.
    public var rms: Double
    public var ratio: Double

    public init(prompt: Int, position: Int, layer: Int, rms: Double, ratio: Double) {
        self.prompt = prompt; self.position = position; self.layer = layer; self.rms = rms; self.ratio = ratio
    }
}

extension MassiveActivations {
    /// The massive positions of one prompt's run: `rms[layer index][position]` against the profile.
    public func readings(rms: [[Double]], layers: [Int], prompt: Int = 0) -> [MassiveReading] {
        var out: [MassiveReading] = []
        for (k, layer) in layers.enumerated() {
            for (t, r) in rms[k].enumerated() where isMassive(rms: r, layer: layer) {
                out.append(MassiveReading(prompt: prompt, position: t, layer: layer, rms: r, ratio: ratio(rms: r, layer: layer)))
            }
        }
        return out
    }

    /// The positions of a prompt that are massive at any of `layers` in its run, sorted.
    public func positions(rms: [[Double]], layers: [Int]) -> [Int] {
        Array(Set(readings(rms: rms, layers: layers).map(\.position))).sorted()
    }
}

// MARK: - Measuring

/// The RMS of `resid_post` at every (layer, position) of one prompt.
public enum RMSScan {
    /// `rms[layer index][position]` for `layers`; the pass stops after the deepest one.
    public static func run(model: Model, prompt: [Int], layers: [Int], context: TaskContext = .none) throws -> [[Double]] {
        try Check.prompt(prompt)
        try Check.layers(layers, model.config)
        let slot = Dictionary(layers.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var out = [[Double]](repeating: [], count: layers.count)
        let hooks = HookSet()
        for l in Set(layers) {
            hooks.add(.residPost(l)) { view in
                guard let k = slot[l] else { return }
                out[k] = (0..<view.counts[0]).map { rms(view.row(batch: 0, position: $0)) }
            }
        }
        var caches = [model.makeCache()]
        _ = try model.forward([prompt], caches: &caches, hooks: hooks, logits: .none,
                              stopAfterLayer: layers.max(), context: TaskContext(isCancelled: { context.isCancelled }))
        for k in layers.indices where out[k].isEmpty {
            // A layer given twice is read once.
            if let first = slot[layers[k]] { out[k] = out[first] }
        }
        return out
    }

    /// The root mean square of a row, accumulated in Double.
    static func rms<C: Collection>(_ row: C) -> Double where C.Element == Float {
        guard !row.isEmpty else { return 0 }
        var s = 0.0
        for x in row { s += Double(x) * Double(x) }
        return (s / Double(row.count)).squareRoot()
    }
}

/// Profiles measured so far, one per loaded model.
final class ProfileCache: @unchecked Sendable {
    static let shared = ProfileCache()
    private var profiles: [ObjectIdentifier: MassiveActivations] = [:]
    private let lock = NSLock()

    func profile(_ model: Model, measure: () throws -> MassiveActivations) throws -> MassiveActivations {
        lock.lock()
        defer { lock.unlock() }
        if let p = profiles[ObjectIdentifier(model)] { return p }
        let p = try measure()
        profiles[ObjectIdentifier(model)] = p
        return p
    }
}
