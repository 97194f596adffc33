import Foundation

// MARK: - Forward backends
//
// A model's forward pass may run elsewhere (llama.cpp in-process or across RPC servers). The
// analyses never see the difference: `Model.forward` hands the pass to the backend, and the
// backend hands each hooked activation back so the same `HookSet` reads and rewrites it. Only the
// points the backend can name are reachable; the others are refused with the reason.

/// Runs whole sequences of a model elsewhere, exposing named intermediate tensors to a callback.
public protocol ForwardBackend: AnyObject {
    /// Where the model runs, for errors and the model card (e.g. "2 RPC servers").
    var placement: String { get }
    /// The backend's name of the tensor a hook point sees, or nil when it cannot reach it.
    func tensorName(for point: HookPoint) -> String?
    /// Why `point` cannot be reached (attention patterns are not exposed, say).
    func unreachableReason(for point: HookPoint) -> UnreachableReason
    /// The most sequences and positions (summed over them) one `evaluate` takes.
    var maxSequences: Int { get }
    var maxPositions: Int { get }
    /// Runs `sequences` in one batch, sequence b holding the tokens of positions `from[b]...`. The
    /// keys and values of positions below `from[b]` are those the previous pass left for sequence b
    /// (all `from` zero: a fresh start). For each tensor in `observe`, as the pass computes it, calls
    /// `tensor(name, rows)` with the rows given, one sequence after the other (`[Σ counts, width]`);
    /// the callback may rewrite them (returning true) and the pass continues from what it wrote.
    /// Returns the logits of the rows from `logitsFrom[b]` (counted within the rows given) of each
    /// sequence, one sequence after the other (none for a nil entry).
    func evaluate(sequences: [[Int]], from: [Int], observe: Set<String>, logitsFrom: [Int?],
                  tensor: (String, UnsafeMutableBufferPointer<Float>) throws -> Bool) throws -> [Float]
}

/// One row written into a tensor of a backend's pass, kept so the pass can be run again alike.
struct RecordedWrite: Equatable, Sendable {
    var tensor: String
    /// The first block whose computation reads the tensor (what a cut from a layer keeps or drops).
    var feedsLayer: Int
    var position: Int
    var row: [Float]
}

/// What a backend needs to run a sequence again: its tokens and the writes made to its rows.
struct BackendReplay: Equatable, Sendable {
    var tokens: [Int] = []
    var writes: [RecordedWrite] = []
    /// Layers below this one hold every token (a cache cut for a resumed pass); `Int.max` when whole.
    var cutLayer: Int = .max

    /// Drops every position from `n` on: the sequence continues differently.
    mutating func truncate(to n: Int) {
        tokens.removeLast(max(0, tokens.count - n))
        cutLayer = .max
        writes.removeAll { $0.position >= n }
    }

    /// Drops positions from `n` on in layers `layer` and up. The tokens stay (even for layer 0):
    /// the pass resumed there runs them again beneath the rows it writes.
    mutating func truncate(to n: Int, fromLayer layer: Int) {
        cutLayer = min(cutLayer, layer)
        writes.removeAll { $0.position >= n && $0.feedsLayer >= layer }
    }
}

/// What the backend's memory holds since its last pass: each sequence's tokens and the writes that
/// shaped them. A pass that continues a sequence exactly sends only its new tokens.
final class BackendMemory: @unchecked Sendable {
    private let lock = NSLock()
    private var held: [BackendReplay] = []

    /// Runs `body` with the sequences held, alone (the backend's memory must not change between
    /// choosing what to keep and the pass); `body` leaves what the backend holds afterwards.
    func update<R>(_ body: (inout [BackendReplay]) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&held)
    }

    /// The positions of `replay`'s first `length` that sequence `b` of the last pass already holds
    /// alike (its tokens, and the writes that shaped them): `length`, or 0 when they differ.
    static func kept(_ held: [BackendReplay], sequence b: Int, replay: BackendReplay, length: Int) -> Int {
        guard length > 0, b < held.count, replay.cutLayer == .max, held[b].cutLayer == .max,
              held[b].tokens.count >= length, replay.tokens.count >= length,
              held[b].tokens[0..<length] == replay.tokens[0..<length] else { return 0 }
        let before = { (w: RecordedWrite) in w.position < length }
        return held[b].writes.filter(before) == replay.writes.filter(before) ? length : 0
    }
}

/// Why a backend cannot reach a hook point.
public enum UnreachableReason: Sendable, Equatable {
    /// Attention weights (patterns, scores, per-head outputs) have no stable tensor name in its attention kernel.
    case attentionWeights
    /// Queries, keys and values are laid out per head after RoPE and are not mapped.
    case perHeadProjections
    /// The backend maps only the hook points named in `mapped`.
    case notMapped(mapped: [String])
    /// The point's tensor holds `found` numbers per position where the hook point has `expected`.
    case width(found: Int, expected: Int)
}

/// Errors of a pass run by a backend.
public enum BackendError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A hook point the backend's graph does not expose.
    case unreachableHook(point: String, placement: String, reason: UnreachableReason)
    /// A gradient was asked of a model whose forward pass runs in a backend.
    case noGradients(placement: String)
    /// A resumed pass whose cache does not hold the tokens of its new rows.
    case missingTokens(sequence: Int, needed: Int, held: Int)

    public var description: String {
        switch self {
        case .unreachableHook(let point, let placement, let reason):
            let why: String
            switch reason {
            case .attentionWeights:
                why = "llama.cpp's attention kernel does not expose the attention weights by a stable name; load the model without `on` for attention analyses"
            case .perHeadProjections:
                why = "its query, key and value tensors are laid out per head after RoPE and are not mapped; load the model without `on`"
            case .notMapped(let mapped):
                why = "the llama.cpp backend maps only " + (mapped.dropLast().joined(separator: ", ") + " and " + (mapped.last ?? ""))
                    + "; load the model without `on` for the others"
            case .width(let found, let expected):
                why = "its tensor holds \(found) numbers per position, not \(expected)"
            }
            return "\(point) cannot be read or written on a model run by llama.cpp (\(placement)): \(why)."
        case .noGradients(let placement):
            return "Gradients need the backward pass of Periscope's own runtime, and this model runs in llama.cpp (\(placement)), which computes no gradients; load the model without `on` for this verb."
        case .missingTokens(let sequence, let needed, let held):
            return "Resumed sequence \(sequence) needs the tokens of \(needed) positions but its cache holds \(held)."
        }
    }
}

// MARK: - Model over a backend

extension Model {
    /// The block that reads a hook point's tensor first: a block's own points feed that block,
    /// `resid_post` of block l feeds block l + 1.
    private static func feedsLayer(_ point: HookPoint) -> Int {
        switch point {
        case .embed: return 0
        case .residPost(let l): return l + 1
        case .lnFinalNormalized: return Int.max
        default: return point.layer ?? 0
        }
    }

    /// Consecutive ranges of a batch whose sequences (of `rows` positions each, replayed from 0)
    /// fit one backend pass; a sequence longer than a pass holds gets a range of its own (the
    /// backend then refuses it with its limit).
    static func passGroups(rows: [Int], maxSequences: Int, maxPositions: Int) -> [Range<Int>] {
        var groups: [Range<Int>] = [], start = 0, positions = 0
        for (b, n) in rows.enumerated() {
            if b > start && (b - start == maxSequences || positions + n > maxPositions) {
                groups.append(start..<b)
                start = b
                positions = 0
            }
            positions += n
        }
        if start < rows.count { groups.append(start..<rows.count) }
        return groups
    }

    /// The forward pass run by `backend`: every sequence in one batch from position 0, with its
    /// recorded tokens and writes replayed; its new rows `start..<start + T` are shown to the hooks
    /// (at blocks from `startLayers[b]` on) as one batch view, like the own runtime's; a resumed
    /// sequence's rows are written at `resid_pre` of its start layer first. Same contract as the
    /// own runtime's `forward`: caches grow by the new rows.
    func backendForward(_ backend: ForwardBackend, tokens: [[Int]]?, residuals: [[Float]]?, startLayers: [Int],
                        caches: inout [KVCache], hooks: HookSet?, logits selection: LogitsSelection,
                        commit: Bool, context: TaskContext) throws -> Tensor {
        let c = config, d = c.modelDim, vocab = c.vocabularySize
        let batch = caches.count
        // A batch beyond what one backend pass takes runs in consecutive passes when no hook sees
        // it (hooks are shown one view of the whole batch, as the own runtime shows them).
        if batch > 1, hooks?.points.isEmpty ?? true {
            let groups = Self.passGroups(rows: (0..<batch).map { b in
                caches[b].length + (residuals.map { $0[b].count / d } ?? tokens?[b].count ?? 0)
            }, maxSequences: backend.maxSequences, maxPositions: backend.maxPositions)
            if groups.count > 1 {
                var data: [Float] = [], perSequence: [Int] = []
                for group in groups {
                    var part = Array(caches[group])
                    let logits = try backendForward(backend, tokens: tokens.map { Array($0[group]) },
                                                    residuals: residuals.map { Array($0[group]) },
                                                    startLayers: Array(startLayers[group]), caches: &part, hooks: nil,
                                                    logits: selection, commit: commit, context: context)
                    caches.replaceSubrange(group, with: part)
                    data += logits.data
                    perSequence.append(logits.shape[1])
                }
                guard perSequence.allSatisfy({ $0 == perSequence[0] }) else { throw TransformerError.raggedLogits(rows: perSequence) }
                return Tensor(shape: [batch, perSequence[0], vocab], data: data)
            }
        }
        // Hook points grouped by the backend tensor they see, in forward order.
        var pointsByTensor: [String: [HookPoint]] = [:]
        let hooked = Set(hooks?.points ?? [])
        for point in HookPoint.all(layers: c.layerCount) where hooked.contains(point) {
            guard let name = backend.tensorName(for: point) else {
                throw BackendError.unreachableHook(point: point.name, placement: backend.placement,
                                                   reason: backend.unreachableReason(for: point))
            }
            pointsByTensor[name, default: []].append(point)
        }
        // Each sequence: its tokens from 0, its new rows, the writes to replay.
        var sequences: [[Int]] = [], starts: [Int] = [], counts: [Int] = [], pending: [[RecordedWrite]] = []
        for b in 0..<batch {
            let replay = caches[b].replay ?? BackendReplay()
            let start = caches[b].length
            var writes = replay.writes   // a cut cache keeps those of the layers below the cut
            if let residuals {
                let count = residuals[b].count / d
                guard replay.tokens.count >= start + count else {
                    throw BackendError.missingTokens(sequence: b, needed: start + count, held: replay.tokens.count)
                }
                sequences.append(Array(replay.tokens[0..<start + count]))
                counts.append(count)
                // The resumed rows enter block `startLayer` as its resid_pre.
                let l = startLayers[b]
                let point: HookPoint = l == 0 ? .embed : .residPost(l - 1)
                guard let name = backend.tensorName(for: point) else {
                    throw BackendError.unreachableHook(point: point.name, placement: backend.placement,
                                                       reason: backend.unreachableReason(for: point))
                }
                for t in 0..<count {
                    writes.append(RecordedWrite(tensor: name, feedsLayer: l, position: start + t,
                                                row: Array(residuals[b][t * d..<(t + 1) * d])))
                }
            } else {
                let new = tokens?[b] ?? []
                sequences.append(Array(replay.tokens.prefix(start)) + new)
                counts.append(new.count)
            }
            starts.append(start)
            pending.append(writes)
        }
        return try backendMemory.update { held in
            // A sequence the backend holds as this cache left it sends only its new tokens.
            let firsts = (0..<batch).map { b in
                residuals == nil && counts[b] > 0
                    ? BackendMemory.kept(held, sequence: b, replay: caches[b].replay ?? BackendReplay(), length: starts[b]) : 0
            }
            held = []   // a pass that fails leaves the backend's memory unknown
            let sent = (0..<batch).map { b in Array(sequences[b][firsts[b]...]) }
            let firstRows = rowOffsets(sent.map(\.count))            // [B + 1] first row of each sequence sent
            let replayed = (0..<batch).map { b in pending[b].filter { $0.position >= firsts[b] } }
            let observe = Set(replayed.joined().map(\.tensor)).union(pointsByTensor.keys)
            // What hooks change in this pass, per sequence.
            var added = [[RecordedWrite]](repeating: [], count: batch)
            let logitsFrom: [Int?] = (0..<batch).map { b in
                switch selection {
                case .all: return starts[b] - firsts[b]
                case .last: return starts[b] + counts[b] - 1 - firsts[b]
                case .none: return nil
                }
            }
            let logits = try backend.evaluate(sequences: sent, from: firsts, observe: observe, logitsFrom: logitsFrom) { name, data in
                try context.checkCancelled()
                let width = data.count / max(firstRows[batch], 1)
                var changed = false
                // Replayed and resumed rows first: each sequence as it was, then its new state.
                for b in 0..<batch {
                    for w in replayed[b] where w.tensor == name && w.row.count == width {
                        let at = (firstRows[b] + w.position - firsts[b]) * width
                        for i in 0..<width { data[at + i] = w.row[i] }
                        changed = true
                    }
                }
                guard let points = pointsByTensor[name], let hooks else { return changed }
                for point in points {
                    // The sequences that have joined by this point's block (a prefix: start layers never decrease).
                    let level = point == .embed ? 0 : (point.layer ?? Int.max)
                    let joined = startLayers.firstIndex { $0 > level } ?? batch
                    guard joined > 0 else { continue }
                    let shape = point.shape(config: c, keys: (0..<joined).map { starts[$0] + counts[$0] }.max() ?? 0)
                    guard shape.reduce(1, *) == width else {
                        throw BackendError.unreachableHook(point: point.name, placement: backend.placement,
                                                           reason: .width(found: width, expected: shape.reduce(1, *)))
                    }
                    // The new rows of the joined sequences, packed the way the own runtime lays out a batch.
                    let packedRows = rowOffsets(Array(counts[0..<joined]))
                    var packed = [Float](repeating: 0, count: packedRows[joined] * width)
                    for b in 0..<joined {
                        let from = (firstRows[b] + starts[b] - firsts[b]) * width
                        for i in 0..<counts[b] * width { packed[packedRows[b] * width + i] = data[from + i] }
                    }
                    let before = packed
                    try packed.withUnsafeMutableBufferPointer { buffer in
                        try hooks.run(ActivationView(point: point, shape: shape, startPositions: Array(starts[0..<joined]),
                                                     counts: Array(counts[0..<joined]), base: buffer.baseAddress!))
                    }
                    for b in 0..<joined {
                        for t in 0..<counts[b] {
                            let row = packedRows[b] * width + t * width
                            guard packed[row..<row + width] != before[row..<row + width] else { continue }
                            let at = (firstRows[b] + starts[b] - firsts[b] + t) * width
                            for i in 0..<width { data[at + i] = packed[row + i] }
                            added[b].append(RecordedWrite(tensor: name, feedsLayer: Self.feedsLayer(point),
                                                          position: starts[b] + t, row: Array(packed[row..<row + width])))
                            changed = true
                        }
                    }
                }
                return changed
            }
            held = (0..<batch).map { b in BackendReplay(tokens: sequences[b], writes: pending[b] + added[b]) }
            if commit {
                for b in 0..<batch {
                    var replay = caches[b].replay ?? BackendReplay()
                    // Its resumed rows, then what hooks changed.
                    replay.writes += pending[b].dropFirst(replay.writes.count) + added[b]
                    replay.tokens = sequences[b]
                    replay.cutLayer = .max
                    caches[b].replay = replay
                    caches[b].commit(rows: counts[b])
                }
            }
            let rows = logitsFrom.enumerated().map { b, from in from.map { sent[b].count - $0 } ?? 0 }
            let perSequence = rows.max() ?? 0
            guard rows.allSatisfy({ $0 == perSequence }) else { throw TransformerError.raggedLogits(rows: rows) }
            return Tensor(shape: [batch, perSequence, vocab], data: logits)
        }
    }
}
