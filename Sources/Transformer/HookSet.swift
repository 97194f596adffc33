import Foundation

// MARK: - Activation view

/// A mutable window onto one hook point's activations during a forward pass, laid out
/// `[batch][positions][width]` where `width` is the product of `shape`.
///
/// It points straight into the forward pass's buffers (no copy); writes change what the rest of
/// the pass computes. It is only valid inside the hook call. In a pass resumed over sequences of
/// different lengths (`Model.forward(residuals:startLayers:caches:)`), sequence b has `counts[b]`
/// rows and `positions` is the most any has.
public struct ActivationView {
    public let point: HookPoint
    public let batch: Int
    /// Rows per sequence (the most of any sequence when they differ; see `counts`).
    public let positions: Int
    /// Rows of each sequence (all equal to `positions` in an ordinary pass).
    public let counts: [Int]
    /// The shape of one position's activation (e.g. `[576]`, `[9, 64]`, `[9, keys]`).
    public let shape: [Int]
    public var width: Int { shape.reduce(1, *) }
    /// Absolute position (in its sequence) of row 0 of each sequence: nonzero during decode.
    public let startPositions: [Int]
    public let base: UnsafeMutablePointer<Float>
    private let offsets: [Int]   // [batch + 1] first row of each sequence in `base`

    init(point: HookPoint, shape: [Int], startPositions: [Int], counts: [Int], base: UnsafeMutablePointer<Float>) {
        self.point = point
        self.batch = counts.count
        self.positions = counts.max() ?? 0
        self.counts = counts
        self.shape = shape
        self.startPositions = startPositions
        self.base = base
        offsets = rowOffsets(counts)
    }

    /// The activation of sequence `b` at window row `t` (absolute position `startPositions[b] + t`).
    public func row(batch b: Int, position t: Int) -> UnsafeMutableBufferPointer<Float> {
        precondition(b >= 0 && b < batch && t >= 0 && t < counts[b], "hook row out of range")
        return UnsafeMutableBufferPointer(start: base + (offsets[b] + t) * width, count: width)
    }

    /// The window row holding absolute position `p` of sequence `b`, or nil when `p` is not in this call.
    public func windowRow(batch b: Int, absolutePosition p: Int) -> Int? {
        let t = p - startPositions[b]
        return t >= 0 && t < counts[b] ? t : nil
    }

    /// Everything in the view as one flat array `[rows·width]` (`[batch·positions·width]` when the
    /// sequences have equal lengths).
    public func copy() -> [Float] { Array(UnsafeBufferPointer(start: base, count: offsets[batch] * width)) }
}

/// A function run at a hook point. It may read and rewrite the activations in place.
public typealias Hook = (ActivationView) throws -> Void

// MARK: - Hook set

/// The hooks for one forward pass, keyed by point. An empty set costs nothing: forward asks
/// `isEmpty`/`contains` and builds no views.
public final class HookSet {
    private(set) var hooks: [HookPoint: [Hook]] = [:]

    public init() {}

    public var isEmpty: Bool { hooks.isEmpty }
    public var points: [HookPoint] { Array(hooks.keys) }
    public func contains(_ point: HookPoint) -> Bool { hooks[point] != nil }

    /// Registers `hook` at `point`; hooks at one point run in registration order.
    public func add(_ point: HookPoint, _ hook: @escaping Hook) {
        hooks[point, default: []].append(hook)
    }

    /// A new set holding the same hooks (adding to it leaves this one unchanged).
    public func copy() -> HookSet {
        let other = HookSet()
        other.hooks = hooks
        return other
    }

    /// Removes every hook.
    public func removeAll() { hooks.removeAll() }

    /// Runs the hooks registered at `view.point`.
    func run(_ view: ActivationView) throws {
        guard let list = hooks[view.point] else { return }
        for hook in list { try hook(view) }
    }

    // MARK: Built-in hooks

    /// Records `points` into `cache` (at every position, or only at the absolute `positions`).
    public func cache(_ points: [HookPoint], into cache: ActivationCache, positions: Set<Int>? = nil) {
        for point in points {
            add(point) { view in cache.record(view, positions: positions) }
        }
    }

    /// Overwrites the activation at absolute `positions` with `value` (`width` floats), in every
    /// sequence of the batch or only in `batch`.
    public func replace(_ point: HookPoint, positions: [Int], with value: [Float], batch: Int? = nil) {
        add(point) { view in
            try Self.checkWidth(value, view)
            for b in Self.sequences(view, batch) {
                for p in positions {
                    guard let t = view.windowRow(batch: b, absolutePosition: p) else { continue }
                    let row = view.row(batch: b, position: t)
                    for i in 0..<row.count { row[i] = value[i] }
                }
            }
        }
    }

    /// Adds `scale × value` to the activation at absolute `positions` (all positions when nil).
    public func add(_ point: HookPoint, vector value: [Float], scale: Float = 1, positions: [Int]? = nil, batch: Int? = nil) {
        add(point) { view in
            try Self.checkWidth(value, view)
            for b in Self.sequences(view, batch) {
                let rows = positions.map { $0.compactMap { view.windowRow(batch: b, absolutePosition: $0) } }
                    ?? Array(0..<view.positions)
                for t in rows {
                    let row = view.row(batch: b, position: t)
                    for i in 0..<row.count { row[i] += scale * value[i] }
                }
            }
        }
    }

    private static func sequences(_ view: ActivationView, _ batch: Int?) -> [Int] {
        if let batch { return batch >= 0 && batch < view.batch ? [batch] : [] }
        return Array(0..<view.batch)
    }

    private static func checkWidth(_ value: [Float], _ view: ActivationView) throws {
        guard value.count == view.width else { throw HookError.widthMismatch(point: view.point, expected: view.width, found: value.count) }
    }
}

/// Errors raised by the built-in hooks.
public enum HookError: Error, CustomStringConvertible, Sendable {
    case widthMismatch(point: HookPoint, expected: Int, found: Int)

    public var description: String {
        switch self {
        case .widthMismatch(let point, let expected, let found):
            return "A vector of \(found) numbers cannot be written at \(point.name), which holds \(expected) per position; use a vector taken from the same hook point."
        }
    }
}

// MARK: - Tensor

/// A dense float array with a shape (row-major, last dimension fastest).
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "tensor shape does not match its data")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) { self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *))) }

    /// Elements in one slice along the first axis.
    public var stride0: Int { shape.dropFirst().reduce(1, *) }

    /// The `i`-th slice along the first axis.
    public subscript(i: Int) -> Tensor {
        let s = stride0
        return Tensor(shape: Array(shape.dropFirst()), data: Array(data[i * s..<(i + 1) * s]))
    }

    /// Bytes held by the data.
    public var byteCount: Int { data.count * MemoryLayout<Float>.size }
}

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

/// The first buffer row of each sequence when sequences of `counts` rows lie one after another,
/// and the total: `[0, c₀, c₀ + c₁, …]` (`counts.count + 1` entries).
func rowOffsets(_ counts: [Int]) -> [Int] {
    var offsets = [0]
    offsets.reserveCapacity(counts.count + 1)
    for n in counts { offsets.append(offsets[offsets.count - 1] + n) }
    return offsets
}
