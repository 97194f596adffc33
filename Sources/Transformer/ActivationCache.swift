import Foundation

// MARK: - Activation cache

/// Activations recorded by cache hooks: point → tensor `[batch, positions, shape...]`.
/// Successive forward calls (decode steps) append along the positions axis.
public final class ActivationCache: @unchecked Sendable {
    public private(set) var tensors: [HookPoint: Tensor] = [:]
    /// Absolute positions recorded for each point (the same for every sequence of the batch).
    public private(set) var positions: [HookPoint: [Int]] = [:]

    public init() {}

    public subscript(point: HookPoint) -> Tensor? { tensors[point] }
    public var points: [HookPoint] { Array(tensors.keys) }
    public var byteCount: Int { tensors.values.reduce(0) { $0 + $1.byteCount } }
    public func removeAll() { tensors.removeAll(); positions.removeAll() }

    /// The activation of sequence `batch` at absolute position `position`, or nil if not recorded.
    public func activation(_ point: HookPoint, batch: Int = 0, position: Int) -> [Float]? {
        guard let t = tensors[point], let index = positions[point]?.firstIndex(of: position), t.shape.count >= 2,
              batch < t.shape[0] else { return nil }
        let width = t.shape.dropFirst(2).reduce(1, *)
        let start = (batch * t.shape[1] + index) * width
        return Array(t.data[start..<start + width])
    }

    /// Appends the view's rows (optionally only absolute `positions`, counted in sequence 0 of the
    /// batch) to the tensor for its point.
    func record(_ view: ActivationView, positions wanted: Set<Int>?) {
        // Window rows to keep; attention widths grow during decode, so those are padded to the widest.
        let rows = (0..<view.positions).filter { t in wanted.map { $0.contains(view.startPositions[0] + t) } ?? true }
        guard !rows.isEmpty else { return }
        let width = view.width
        var old = tensors[view.point]
        var oldWidth = old.map { $0.shape.dropFirst(2).reduce(1, *) } ?? width
        var shape = view.shape
        if let o = old, o.shape[0] != view.batch { old = nil; oldWidth = width; positions[view.point] = nil }
        if view.point.isAttentionWidth, let o = old, o.shape.last.map({ $0 < view.shape[1] }) == true {
            old = Self.widenKeys(o, to: view.shape[1], fill: view.point.isScores ? -.infinity : 0)
            oldWidth = width
        } else if view.point.isAttentionWidth, let o = old, let keys = o.shape.last, keys > view.shape[1] {
            shape = [view.shape[0], keys]
        }
        let outWidth = shape.reduce(1, *)
        let oldCount = old?.shape[1] ?? 0
        let total = oldCount + rows.count
        var data = [Float](repeating: view.point.isAttentionWidth && view.point.isScores ? -.infinity : 0,
                           count: view.batch * total * outWidth)
        for b in 0..<view.batch {
            if let o = old {
                for t in 0..<oldCount {
                    let src = (b * oldCount + t) * oldWidth, dst = (b * total + t) * outWidth
                    for i in 0..<oldWidth { data[dst + i] = o.data[src + i] }
                }
            }
            for (k, t) in rows.enumerated() where t < view.counts[b] {   // shorter sequences leave zeros
                let row = view.row(batch: b, position: t)
                let dst = (b * total + oldCount + k) * outWidth
                if outWidth == width {
                    for i in 0..<width { data[dst + i] = row[i] }
                } else {
                    // Narrower attention rows (earlier decode steps) into wider storage, head by head.
                    let heads = view.shape[0], keys = view.shape[1], wide = shape[1]
                    for h in 0..<heads { for j in 0..<keys { data[dst + h * wide + j] = row[h * keys + j] } }
                }
            }
        }
        tensors[view.point] = Tensor(shape: [view.batch, total] + shape, data: data)
        positions[view.point, default: []] += rows.map { view.startPositions[0] + $0 }
    }

    /// Pads the keys axis of an attention tensor `[B, T, H, K]` to `keys`.
    private static func widenKeys(_ t: Tensor, to keys: Int, fill: Float) -> Tensor {
        let (b, n, h, k) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        var data = [Float](repeating: fill, count: b * n * h * keys)
        for r in 0..<(b * n * h) { for j in 0..<k { data[r * keys + j] = t.data[r * k + j] } }
        return Tensor(shape: [b, n, h, keys], data: data)
    }
}

extension HookPoint {
    var isAttentionWidth: Bool {
        switch self { case .attnScores, .pattern: return true; default: return false }
    }
    var isScores: Bool { if case .attnScores = self { return true } else { return false } }
}
