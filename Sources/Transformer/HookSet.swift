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
