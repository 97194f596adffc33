import Foundation
import Transformer

// MARK: - Targets

/// A Patchscope target prompt: the text the patched state is decoded in, and the placeholder
/// whose last token receives the state (Ghandeharioun et al. 2024, "Patchscopes").
public struct PatchscopeTarget: Sendable, Equatable {
    /// "identity", "description", "attribute" or "prompt".
    public var name: String
    public var text: String
    /// The word replaced by the patched state; nil for a plain prompt (give the position yourself).
    public var placeholder: String?

    public init(name: String = "prompt", text: String, placeholder: String? = nil) {
        self.name = name
        self.text = text
        self.placeholder = placeholder
    }

    /// The identity prompt: few-shot "repeat the token", so the model says what the state encodes.
    /// The placeholder is the last token, as in the paper's next-token experiments: the patched
    /// state's own next-token reading continues the text, and a sweep resumes one row per layer.
    public static let identity = PatchscopeTarget(
        name: "identity", text: "cat -> cat; 1135 -> 1135; hello -> hello; ?", placeholder: "?")

    /// The paper's few-shot entity-description prompt, placeholder "x".
    public static let description = PatchscopeTarget(
        name: "description",
        text: "Syria: Country in the Middle East, Leonardo DiCaprio: American actor, Samsung: South Korean multinational "
            + "major appliance and consumer electronics corporation, x",
        placeholder: "x")

    /// An attribute question such as "The capital city of x", placeholder "x".
    public static func attribute(_ template: String = "The capital city of x") -> PatchscopeTarget {
        PatchscopeTarget(name: "attribute", text: template, placeholder: "x")
    }

    /// The target tokenised, with the position of the placeholder's last token (nil without a placeholder).
    public func tokenize(with tokenizer: Tokenizer) throws -> (ids: [Int], placeholderPosition: Int?) {
        let ids = tokenizer.encode(text).map(Int.init)
        guard !ids.isEmpty else { throw AnalysisError.emptyPrompt }
        guard let placeholder else { return (ids, nil) }
        guard let range = Self.lastStandalone(placeholder, in: text) else {
            throw AnalysisError.placeholderMissing(placeholder: placeholder, prompt: text)
        }
        let prefix = String(text[..<range.upperBound])
        let prefixIDs = tokenizer.encode(prefix).map(Int.init)
        if !prefixIDs.isEmpty, prefixIDs.count <= ids.count, Array(ids.prefix(prefixIDs.count)) == prefixIDs {
            return (ids, prefixIDs.count - 1)
        }
        // The placeholder merged with what follows: find the token covering its last character.
        let end = prefix.utf8.count
        var covered = 0
        for (i, id) in ids.enumerated() {
            covered += tokenizer.pieceBytes(Int32(id)).count
            if covered >= end { return (ids, i) }
        }
        return (ids, ids.count - 1)
    }

    /// The last occurrence of `word` not inside a longer word (so "x" is not found in "Alexander").
    static func lastStandalone(_ word: String, in text: String) -> Range<String.Index>? {
        var searchEnd = text.endIndex
        while let r = text.range(of: word, options: .backwards, range: text.startIndex..<searchEnd) {
            let before = r.lowerBound > text.startIndex ? text[text.index(before: r.lowerBound)] : " "
            let after = r.upperBound < text.endIndex ? text[r.upperBound] : " "
            let wordy = word.first.map { $0.isLetter || $0.isNumber } ?? false
            if !wordy || (!(before.isLetter || before.isNumber) && !(after.isLetter || after.isNumber)) { return r }
            searchEnd = r.lowerBound
        }
        return nil
    }
}

// MARK: - Options

/// Where the patched state is written in the target: the source layer itself, or one fixed layer.
public enum TargetLayer: Sendable, Equatable {
    case same
    case fixed(Int)
    /// One target layer per source layer (e.g. the same depth in a model with fewer layers).
    case each([Int])
}

/// How the patched target run is decoded.
public enum PatchscopeDecoding: Sendable, Equatable {
    /// Greedy generation of N tokens; later steps see the patch only through the KV cache.
    case generate(Int)
    /// The K most likely next tokens after the patched prompt pass.
    case top(Int)
}

// MARK: - Result

/// One patched run: the source layer read, the target layer written, and what was decoded.
public struct PatchscopeRow: Sendable, Equatable {
    public var sourceLayer: Int
    public var targetLayer: Int
    /// Greedy tokens (one for `.top`).
    public var generatedIDs: [Int]
    /// The generated tokens decoded together.
    public var text: String
    /// The most likely tokens after the prompt pass (K of `.top`, else 5); `top[0]` is the first generated token.
    public var top: [TokenScore]

    /// The first decoded token and its probability.
    public var first: TokenScore? { top.first }
}

/// A Patchscope or a sweep of them (one row per source layer).
public struct PatchscopeResult: Sendable, Equatable {
    public var sourceIDs: [Int]
    public var sourceTokens: [String]
    public var sourcePosition: Int
    public var targetIDs: [Int]
    public var targetTokens: [String]
    public var targetPosition: Int
    public var decoding: PatchscopeDecoding
    public var mapped: Bool
    public var rows: [PatchscopeRow]
}

// MARK: - Patchscope

/// Patchscopes: read a hidden state from one run, write it into another, and let the model decode it.
///
/// The sweep does the work once where it can: the source prompt runs once
/// (up to the deepest layer read); the target prompt runs once, unpatched, and each variant
/// resumes from it at the block after its patched layer (the prefix's KV cache and the blocks
/// below the patch are shared); every variant then runs as one batch through the same matrix
/// products, for the patched prompt rows and for each generated token.
public enum Patchscope {
    /// Most sequences in one batched forward call (bounds the scratch memory).
    static let maxBatch = 32

    /// One patch: `resid_post` of `sourceLayer` at `sourcePosition` of `source` (optionally through
    /// `map`) into `resid_post` of `targetLayer` (default: the same) at `targetPosition` of `target`.
    public static func patch(model: Model, source: [Int], sourceLayer: Int, sourcePosition: Int, target: [Int],
                             targetLayer: Int? = nil, targetPosition: Int, decoding: PatchscopeDecoding = .generate(5),
                             map: AffineMap? = nil, sourceModel: Model? = nil, stopTokens: Set<Int> = [],
                             tokenizer: Tokenizer? = nil, context: TaskContext = .none) throws -> PatchscopeResult {
        try sweep(model: model, source: source, sourcePosition: sourcePosition, sourceLayers: [sourceLayer],
                  target: target, targetPosition: targetPosition, targetLayer: targetLayer.map { .fixed($0) } ?? .same,
                  decoding: decoding, map: map, sourceModel: sourceModel, stopTokens: stopTokens, tokenizer: tokenizer,
                  context: context)
    }

    /// One patch per source layer, batched. Negative positions count from the end.
    ///
    /// `sourceModel` (default `model`) runs the source prompt; `model` runs the target. `map`
    /// applies to every row, `maps` gives one per source layer (in the order of `sourceLayers`);
    /// states of another width need one.
    public static func sweep(model: Model, source: [Int], sourcePosition: Int, sourceLayers: [Int]? = nil,
                             target: [Int], targetPosition: Int, targetLayer: TargetLayer = .same,
                             decoding: PatchscopeDecoding = .generate(5), map: AffineMap? = nil,
                             maps: [AffineMap]? = nil, sourceModel: Model? = nil,
                             stopTokens: Set<Int> = [], tokenizer: Tokenizer? = nil,
                             context: TaskContext = .none) throws -> PatchscopeResult {
        let c = model.config
        let sourceModel = sourceModel ?? model
        let sc = sourceModel.config
        try Check.prompt(source)
        try Check.prompt(target)
        let layers = sourceLayers ?? Array(0..<sc.layerCount)
        try Check.layers(layers, sc)
        let sp = try Check.position(sourcePosition, count: source.count, role: "source")
        let tp = try Check.position(targetPosition, count: target.count, role: "target")
        let targetLayers: [Int]
        switch targetLayer {
        case .same:
            targetLayers = layers
            if sourceModel !== model { try Check.layers(targetLayers, c) }
        case .fixed(let l):
            try Check.layer(l, c)
            targetLayers = layers.map { _ in l }
        case .each(let ls):
            guard ls.count == layers.count else {
                throw AnalysisError.intOutOfRange(name: "target layers", value: ls.count, lowest: layers.count, highest: layers.count)
            }
            try Check.layers(ls, c)
            targetLayers = ls
        }
        let steps: Int, k: Int
        switch decoding {
        case .generate(let n):
            guard n >= 1 else { throw AnalysisError.intOutOfRange(name: "generate", value: n, lowest: 1, highest: nil) }
            steps = n; k = 5
        case .top(let n):
            guard n >= 1, n <= c.vocabularySize else {
                throw AnalysisError.intOutOfRange(name: "top", value: n, lowest: 1, highest: c.vocabularySize)
            }
            steps = 1; k = n
        }
        guard target.count + steps - 1 <= c.contextLength else {
            throw TransformerError.contextOverflow(needed: target.count + steps - 1, contextLength: c.contextLength)
        }
        let rowMaps: [AffineMap]? = maps ?? map.map { m in layers.map { _ in m } }
        if let rowMaps {
            guard rowMaps.count == layers.count else {
                throw AnalysisError.intOutOfRange(name: "maps", value: rowMaps.count, lowest: layers.count, highest: layers.count)
            }
            for (m, (s, t)) in zip(rowMaps, zip(layers, targetLayers)) {
                guard m.inputDim == sc.modelDim, m.outputDim == c.modelDim else {
                    throw AnalysisError.mapWidths(input: m.inputDim, output: m.outputDim, source: sc.modelDim, target: c.modelDim)
                }
                guard m.sourceLayer == s, m.targetLayer == t else {
                    throw AnalysisError.mapLayers(fittedSource: m.sourceLayer, fittedTarget: m.targetLayer, source: s, target: t)
                }
            }
        } else if sc.modelDim != c.modelDim {
            throw AnalysisError.widthsNeedMap(source: sc.modelDim, target: c.modelDim)
        }

        // 1. The source prompt once, up to the deepest layer read: resid_post at the source position.
        let d = c.modelDim
        var sourceStates: [Int: [Float]] = [:]
        let sourceHooks = HookSet()
        for l in Set(layers) {
            sourceHooks.add(.residPost(l)) { view in
                guard let t = view.windowRow(batch: 0, absolutePosition: sp) else { return }
                sourceStates[l] = Array(view.row(batch: 0, position: t))
            }
        }
        let stages = 2 + (layers.count + maxBatch - 1) / maxBatch
        try sourceModel.run(source, hooks: sourceHooks, through: layers.max() ?? 0,
                            context: context.stage(0, of: stages, label: "source prompt"))
        let vectors: [[Float]] = layers.enumerated().map { i, l in
            let state = sourceStates[l] ?? [Float](repeating: 0, count: sc.modelDim)
            return rowMaps?[i].apply(state) ?? state
        }

        // 2. The target once, unpatched: its KV cache, and resid_post of each target layer at the
        //    rows from the placeholder on. A variant patched at layer L equals this run up to block L,
        //    so it resumes at block L + 1 from those rows, the placeholder's replaced (neither
        //    the target's prefix nor the layers below the patch are computed again).
        let (targetCache, targetStates) = try ResumedBatch.record(
            model: model, ids: target, position: tp, layers: Set(targetLayers),
            context: context.stage(1, of: stages, label: "target prompt"))          // layer → [target.count − tp, d_model]

        // 3. The variants in batches, in order of target layer (a resumed batch joins block by block):
        //    the patched prompt rows, then greedy steps through the cache.
        let order = layers.indices.sorted { targetLayers[$0] < targetLayers[$1] }
        let cancelOnly = TaskContext(isCancelled: { context.isCancelled })
        var rows = [PatchscopeRow?](repeating: nil, count: layers.count)
        var start = 0
        while start < layers.count {
            let end = min(layers.count, start + maxBatch)
            let members = Array(order[start..<end])                   // indices into `layers`
            let batch = members.count
            let memberLayers = members.map { layers[$0] }
            let stage = context.stage(2 + start / maxBatch, of: stages,
                                      label: "layers \(memberLayers.min() ?? 0)–\(memberLayers.max() ?? 0)")
            var resumed = ResumedBatch()
            for i in members {
                let l = targetLayers[i]
                // The placeholder row is the patched state.
                resumed.append(rows: targetStates[l] ?? [], firstRow: Array(vectors[i].prefix(d)), position: tp,
                               startLayer: l + 1, cache: targetCache)
            }
            var logits = try resumed.run(model: model, context: stage)
            var caches = resumed.caches
            let vocab = c.vocabularySize
            var tops: [[TokenScore]] = []
            var generated = [[Int]](repeating: [], count: batch)
            var stopped = [Bool](repeating: false, count: batch)
            for step in 0..<steps {
                try context.checkCancelled()
                var next: [[Int]] = []
                for b in 0..<batch {
                    let row = Array(logits.data[b * vocab..<(b + 1) * vocab])
                    if step == 0 { tops.append(Softmax.top(row, k: k, tokenizer: tokenizer)) }
                    let id = Sampler.argmax(row)
                    if !stopped[b] {
                        generated[b].append(id)
                        if stopTokens.contains(id) { stopped[b] = true }
                    }
                    next.append([id])
                }
                stage.report(Double(step + 1) / Double(steps), "token \(step + 1)/\(steps)")
                if step == steps - 1 || stopped.allSatisfy({ $0 }) { break }
                // Interruptible between the step's layers; progress stays per token, not per layer.
                logits = try model.forward(next, caches: &caches, logits: .last, context: cancelOnly)
            }
            for (b, i) in members.enumerated() {
                let ids = generated[b]
                let text = tokenizer.map { t in t.decode(ids.map { Int32($0) }) } ?? ids.map { "#\($0)" }.joined(separator: " ")
                rows[i] = PatchscopeRow(sourceLayer: layers[i], targetLayer: targetLayers[i], generatedIDs: ids, text: text, top: tops[b])
            }
            start = end
        }
        return PatchscopeResult(sourceIDs: source, sourceTokens: source.map { TokenScore.label($0, tokenizer) }, sourcePosition: sp,
                                targetIDs: target, targetTokens: target.map { TokenScore.label($0, tokenizer) }, targetPosition: tp,
                                decoding: decoding, mapped: rowMaps != nil, rows: rows.compactMap { $0 })
    }
}
