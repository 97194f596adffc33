import Foundation

// MARK: - Random numbers

/// SplitMix64: a tiny deterministic generator, so a seed reproduces a generation exactly on
/// every machine (the system generator is neither seedable nor stable).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform float in [0, 1) from the top 24 bits.
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

// MARK: - Sampler

/// Picks the next token from logits: greedy (argmax) when `temperature` is 0, otherwise a draw from
/// softmax(logits / temperature), optionally restricted to the `topK` most likely tokens.
public struct Sampler: Sendable {
    public var temperature: Float
    public var topK: Int?
    private var rng: SplitMix64

    public init(temperature: Float = 0, topK: Int? = nil, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        rng = SplitMix64(seed: seed)
    }

    /// The id of the chosen token.
    public mutating func sample(_ logits: [Float]) -> Int {
        guard temperature > 0 else { return Self.argmax(logits) }
        var candidates = Array(logits.indices)
        if let k = topK, k > 0, k < logits.count {
            candidates = Self.topK(logits, k).map(\.index)
        }
        let maxLogit = candidates.map { logits[$0] }.max() ?? 0
        var weights = candidates.map { exp(Double((logits[$0] - maxLogit) / temperature)) }
        let total = weights.reduce(0, +)
        for i in weights.indices { weights[i] /= total }
        let u = Double(rng.nextUnitFloat())
        var cumulative = 0.0
        for (i, w) in weights.enumerated() {
            cumulative += w
            if u < cumulative { return candidates[i] }
        }
        return candidates[candidates.count - 1]
    }

    /// Index of the largest logit (the first one on ties).
    public static func argmax(_ logits: [Float]) -> Int {
        logits.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress, p.count >= 16, !base[0].isNaN else {
                var best = 0
                for i in p.indices where p[i] > p[best] { best = i }
                return best
            }
            // The largest value 8 lanes at a time (NaNs never compare greater, as in the scalar loop),
            // then its first index: a decode step's 49K logits in a few µs rather than ~50.
            let raw = UnsafeRawPointer(base)
            var top = SIMD8<Float>(repeating: base[0])
            var i = 0
            while i &+ 8 <= p.count {
                let v = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                top.replace(with: v, where: v .> top)
                i &+= 8
            }
            var largest = top.max()
            while i < p.count { if p[i] > largest { largest = p[i] }; i &+= 1 }
            return p.firstIndex(of: largest) ?? 0
        }
    }

    /// The `k` largest entries as (index, value), largest first; equal values keep the lower index first.
    public static func topK(_ logits: [Float], _ k: Int) -> [(index: Int, value: Float)] {
        // A sort is cheapest when K is large; otherwise a threshold scan.
        if k > 64 {
            return logits.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
                .prefix(k).map { ($0.offset, $0.element) }
        }
        return logits.withUnsafeBufferPointer { Transformer.topK($0, k) }
    }
}
