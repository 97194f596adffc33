// MARK: - KV cache

/// The keys (after RoPE) and values of every layer for the positions a sequence has seen so far.
///
/// A value type: copying a cache is how a shared prefix is reused — run the prefix once, copy the
/// cache for each continuation; each copy's arrays are duplicated only when that copy grows.
public struct KVCache: Sendable, Equatable {
    /// Positions held (the next token goes at this absolute position).
    public private(set) var length: Int = 0
    /// Width of one position's keys (H_kv·d_head).
    public let kvDim: Int
    var keys: [[Float]]     // L × [length, H_kv·d_head]   after RoPE
    var values: [[Float]]   // L × [length, H_kv·d_head]
    /// For a model run by a `ForwardBackend`, which keeps no keys and values here: the tokens of
    /// the sequence (past `length` too, in a cache cut for a resumed pass) and every write hooks
    /// made to its rows, replayed when the backend runs the sequence again. Nil for the own runtime.
    var replay: BackendReplay?

    /// An empty cache for `config`.
    public init(config: ModelConfig) {
        kvDim = config.kvDim
        keys = Array(repeating: [], count: config.layerCount)
        values = Array(repeating: [], count: config.layerCount)
    }

    /// An empty cache for a model run by a backend: it records tokens and writes, not keys and values.
    init(config: ModelConfig, replaying: Bool) {
        self.init(config: config)
        if replaying { replay = BackendReplay() }
    }

    /// Drops every position from `newLength` on, so the sequence can be continued differently.
    public mutating func truncate(to newLength: Int) {
        let n = max(0, min(length, newLength))
        if replay != nil {
            replay?.truncate(to: n)
            length = n
            return
        }
        for l in keys.indices {
            keys[l].removeLast(keys[l].count - n * kvDim)
            values[l].removeLast(values[l].count - n * kvDim)
        }
        length = n
    }

    /// Drops every position from `newLength` on in layers `layer` and up only, keeping the layers
    /// below whole: the cache a pass resumed at block `layer` continues (see
    /// `Model.forward(residuals:startLayers:caches:)`), whose rows from `newLength` on are unchanged
    /// below `layer`. Until that pass runs, the layers below hold more positions than `length`.
    public mutating func truncate(to newLength: Int, fromLayer layer: Int) {
        let n = max(0, min(length, newLength))
        if replay != nil {
            replay?.truncate(to: n, fromLayer: layer)
            length = n
            return
        }
        for l in keys.indices where l >= layer {
            keys[l].removeLast(keys[l].count - n * kvDim)
            values[l].removeLast(values[l].count - n * kvDim)
        }
        length = n
    }

    /// Positions held in layer `layer` (equal to `length` except in a cache cut with `truncate(to:fromLayer:)`).
    public func positions(layer: Int) -> Int {
        if let replay { return layer < replay.cutLayer ? replay.tokens.count : length }
        return keys[layer].count / kvDim
    }

    /// True when layers `layer` and up hold `length` positions and those below `length + rows`: the
    /// shape a pass resuming at block `layer` with `rows` new rows needs.
    func isReady(toResumeAt layer: Int, rows: Int) -> Bool {
        if let replay { return replay.tokens.count >= length + rows }
        return keys.indices.allSatisfy { l in
            let expected = (l < layer ? length + rows : length) * kvDim
            return keys[l].count == expected && values[l].count == expected
        }
    }

    /// Bytes held by the cached keys and values.
    public var byteCount: Int { keys.reduce(0) { $0 + $1.count } * 2 * MemoryLayout<Float>.size }

    /// Appends `rows` new positions of layer `layer` (k and v are [rows, kvDim]).
    mutating func append(layer: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, rows: Int) {
        keys[layer].append(contentsOf: UnsafeBufferPointer(start: k, count: rows * kvDim))
        values[layer].append(contentsOf: UnsafeBufferPointer(start: v, count: rows * kvDim))
    }

    /// Removes rows appended after `length` in `layers` (a pass that stopped early).
    ///
    /// Only the bounds are read, through a stride: a resumed sequence that starts past the last
    /// block (an `mlp_out` restoration of the last layer) gives `layerCount...layerCount - 1`,
    /// which `-Ounchecked` lets through and whose iteration would run past the layers.
    mutating func removeUncommitted(layers: ClosedRange<Int>) {
        removeUncommitted(fromLayer: layers.lowerBound, through: layers.upperBound)
    }

    /// Removes rows appended after `length` in layers `first` through `last` (none when `first > last`).
    mutating func removeUncommitted(fromLayer first: Int, through last: Int = .max) {
        for l in stride(from: max(first, 0), through: min(last, keys.count - 1), by: 1) {
            keys[l].removeLast(max(0, keys[l].count - length * kvDim))
            values[l].removeLast(max(0, values[l].count - length * kvDim))
        }
    }

    /// Marks `rows` positions as added (after every layer appended them).
    mutating func commit(rows: Int) { length += rows }
}
