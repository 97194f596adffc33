import Foundation
import Transformer

// MARK: - Tuned lens

/// A tuned lens (Belrose et al. 2023): per layer, an affine translator from that layer's
/// `resid_post` to the last layer's, so the final norm and unembedding read each layer in the
/// basis the unembedding expects. Fitted by ridge least squares (shrunk toward the identity, so a
/// translator with little data stays close to the plain logit lens).
public struct TunedLens: Sendable, Equatable {
    /// `translators[l]` maps layer l; the last layer's is the identity.
    public var translators: [AffineMap]
    /// Token positions the translators were fitted on.
    public var samples: Int

    public init(translators: [AffineMap], samples: Int) {
        self.translators = translators
        self.samples = samples
    }

    public var layerCount: Int { translators.count }
    public var width: Int { translators.first?.inputDim ?? 0 }

    /// Fits one translator per layer on `texts` (every position but each text's first), from one
    /// forward pass per text.
    public static func fit(model: Model, texts: [[Int]], ridge: Double = 1e-2, context: TaskContext = .none) throws -> TunedLens {
        let c = model.config
        let last = c.layerCount - 1
        let all = Array(0..<c.layerCount)
        let states = try StateCollector.collect(model: model, texts: texts, layers: all,
                                                context: context.stage(0, of: 2, label: "forward passes"))
        var translators: [AffineMap] = []
        var samples = 0
        let solving = context.stage(1, of: 2, label: "translators")
        for l in 0..<last {
            try context.checkCancelled()
            let pairs = StatePairs.samePositions(states, sourceLayer: l, targetLayer: last, tokenCounts: texts.map(\.count),
                                                 width: c.modelDim)
            var map = try AffineMap.solve(pairs, ridge: ridge, split: 1)
            map.sourceLayer = l
            map.targetLayer = last
            samples = map.samples
            translators.append(map)
            solving.report(Double(l + 1) / Double(last), "layer \(l + 1)/\(last)")
        }
        translators.append(identity(layer: last, width: c.modelDim))
        return TunedLens(translators: translators, samples: samples)
    }

    /// `W = I, b = 0` at `layer`.
    static func identity(layer: Int, width d: Int) -> AffineMap {
        var weight = [Float](repeating: 0, count: d * d)
        for i in 0..<d { weight[i * d + i] = 1 }
        return AffineMap(sourceLayer: layer, targetLayer: layer, inputDim: d, outputDim: d, weight: weight,
                         bias: [Float](repeating: 0, count: d), towardIdentity: true)
    }

    /// `rows` states `[rows, d]` of `layer` translated to the last layer's basis.
    public func translate(_ states: [Float], rows: Int, layer: Int) -> [Float] {
        translators[layer].apply(rows: states, count: rows)
    }
}

// MARK: - File

extension TunedLens {
    static let magic: [UInt8] = Array("PSTUNED1".utf8)

    /// Little-endian: magic, layer count, width, samples (UInt32 each), then per layer the weight
    /// `[d, d]` and bias `[d]` as Float32.
    public func data() -> Data {
        var out = Data(Self.magic)
        for v in [UInt32(layerCount), UInt32(width), UInt32(samples)] { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        for t in translators {
            t.weight.withUnsafeBufferPointer { out.append($0) }
            t.bias.withUnsafeBufferPointer { out.append($0) }
        }
        return out
    }

    /// Reads `data()` back; nil when it is not a tuned lens of `layers` layers and `width` numbers.
    public init?(data: Data, layers: Int, width d: Int) {
        let header = Self.magic.count + 12
        guard data.count == header + layers * (d * d + d) * 4, Array(data.prefix(Self.magic.count)) == Self.magic else { return nil }
        let bytes = [UInt8](data)
        func u32(_ at: Int) -> Int { Int(UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24) }
        let m = Self.magic.count
        guard u32(m) == layers, u32(m + 4) == d else { return nil }
        let samples = u32(m + 8)
        var translators: [AffineMap] = []
        bytes.withUnsafeBytes { raw in
            var offset = header
            for l in 0..<layers {
                var weight = [Float](repeating: 0, count: d * d), bias = [Float](repeating: 0, count: d)
                weight.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + d * d * 4])) }
                offset += d * d * 4
                bias.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + d * 4])) }
                offset += d * 4
                translators.append(AffineMap(sourceLayer: l, targetLayer: layers - 1, inputDim: d, outputDim: d, weight: weight,
                                             bias: bias, samples: samples, towardIdentity: true))
            }
        }
        self.init(translators: translators, samples: samples)
    }
}
