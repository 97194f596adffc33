import COpenBLAS
import Foundation
import Transformer

// MARK: - Affine map between residual streams

/// `y = W·x + b` from one layer's `resid_post` to another's, of the same model or of another
/// one — the learned mapping of the Patchscopes paper, fitted by ridge least squares on pairs of
/// states of the same text.
public struct AffineMap: Sendable, Equatable {
    public var sourceLayer: Int
    public var targetLayer: Int
    public var inputDim: Int
    public var outputDim: Int
    /// `[outputDim, inputDim]`, row-major.
    public var weight: [Float]
    /// `[outputDim]`.
    public var bias: [Float]
    /// Pairs the map was fitted on.
    public var samples: Int
    /// Pairs held out of the fit and scored.
    public var heldOut: Int
    /// R² on the held-out pairs (on the fitting pairs when none are held out): one minus the
    /// residual over the total sum of squares about the targets' mean, over every dimension.
    public var explainedVariance: Double
    /// Mean cosine between predicted and true held-out targets (fitting pairs when none held out).
    public var meanCosine: Double
    /// The ridge as given (relative to the inputs' mean variance) and as applied.
    public var ridge: Double
    public var lambda: Double
    /// True when the fit shrinks toward `W = I` (same width), not toward `W = 0`.
    public var towardIdentity: Bool

    public init(sourceLayer: Int, targetLayer: Int, inputDim: Int, outputDim: Int, weight: [Float], bias: [Float],
                samples: Int = 0, heldOut: Int = 0, explainedVariance: Double = .nan, meanCosine: Double = .nan,
                ridge: Double = 0, lambda: Double = 0, towardIdentity: Bool = false) {
        self.sourceLayer = sourceLayer
        self.targetLayer = targetLayer
        self.inputDim = inputDim
        self.outputDim = outputDim
        self.weight = weight
        self.bias = bias
        self.samples = samples
        self.heldOut = heldOut
        self.explainedVariance = explainedVariance
        self.meanCosine = meanCosine
        self.ridge = ridge
        self.lambda = lambda
        self.towardIdentity = towardIdentity
    }

    /// `W·x + b`.
    public func apply(_ x: [Float]) -> [Float] {
        var y = bias
        for o in 0..<outputDim {
            var sum: Float = 0
            let row = o * inputDim
            for i in 0..<inputDim { sum += weight[row + i] * x[i] }
            y[o] += sum
        }
        return y
    }

    /// `W·x + b` for `rows` inputs `[rows, inputDim]` at once: `[rows, outputDim]`.
    public func apply(rows xs: [Float], count rows: Int) -> [Float] {
        var ys = [Float](repeating: 0, count: rows * outputDim)
        for r in 0..<rows { for o in 0..<outputDim { ys[r * outputDim + o] = bias[o] } }
        guard rows > 0 else { return ys }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outputDim), Int32(inputDim), 1,
                    xs, Int32(inputDim), weight, Int32(inputDim), 1, &ys, Int32(outputDim))
        return ys
    }

    /// Fewest pairs a fit accepts.
    public static let minimumSamples = 32

    /// Fits the map from `resid_post` of `sourceLayer` to `resid_post` of `targetLayer` of one
    /// model over every position but the first of each text (the first token's state is an
    /// attention sink whose outlying norm would dominate the squares). Nothing is held out.
    public static func fit(model: Model, texts: [[Int]], sourceLayer: Int, targetLayer: Int, ridge: Double = 1e-2,
                           context: TaskContext = .none) throws -> AffineMap {
        let c = model.config
        try Check.layer(sourceLayer, c)
        try Check.layer(targetLayer, c)
        let states = try StateCollector.collect(model: model, texts: texts, layers: [sourceLayer, targetLayer],
                                                context: context.stage(0, of: 2, label: "forward passes"))
        let pairs = StatePairs.samePositions(states, sourceLayer: sourceLayer, targetLayer: targetLayer,
                                             tokenCounts: texts.map(\.count), width: c.modelDim)
        var map = try solve(pairs, ridge: ridge, split: 1, context: context.stage(1, of: 2, label: "solve"))
        map.sourceLayer = sourceLayer
        map.targetLayer = targetLayer
        return map
    }

    /// Ridge least squares on `pairs`: the first `split` share of its texts fit the map, the rest
    /// score it. Inputs and targets are centred, so the bias is not shrunk; the ridge λ is `ridge`
    /// times the inputs' mean variance times the number of fitting pairs. With equal widths the
    /// fit is of the change `W − I` (the residual stream mostly carries a state forward), so the
    /// ridge shrinks toward the identity.
    public static func solve(_ pairs: StatePairs, ridge: Double, split: Double, context: TaskContext = .none) throws -> AffineMap {
        guard ridge >= 0, ridge.isFinite else {
            throw AnalysisError.numberOutOfRange(name: "ridge", value: ridge, domain: .nonNegative, example: 0.01)
        }
        guard split > 0, split <= 1 else {
            throw AnalysisError.numberOutOfRange(name: "split", value: split, domain: .shareUpToOne, example: 0.8)
        }
        let dIn = pairs.inputDim, dOut = pairs.outputDim
        let trainRows = pairs.rowsOfFirst(texts: split >= 1 ? pairs.textRows.count : Int((Double(pairs.textRows.count) * split).rounded()))
        let n = trainRows
        guard n >= minimumSamples else { throw AnalysisError.notEnoughFitData(samples: n, needed: minimumSamples) }
        let identity = dIn == dOut

        // Centred inputs X [n, dIn] and targets Y [n, dOut] (minus X when fitting the change).
        var meanX = [Double](repeating: 0, count: dIn), meanY = [Double](repeating: 0, count: dOut)
        for r in 0..<n {
            for i in 0..<dIn { meanX[i] += Double(pairs.xs[r * dIn + i]) }
            for o in 0..<dOut { meanY[o] += Double(pairs.ys[r * dOut + o]) - (identity ? Double(pairs.xs[r * dIn + o]) : 0) }
        }
        for i in 0..<dIn { meanX[i] /= Double(n) }
        for o in 0..<dOut { meanY[o] /= Double(n) }
        var x = [Double](repeating: 0, count: n * dIn)       // [n, dIn]
        var y = [Double](repeating: 0, count: n * dOut)      // [n, dOut]
        for r in 0..<n {
            for i in 0..<dIn { x[r * dIn + i] = Double(pairs.xs[r * dIn + i]) - meanX[i] }
            for o in 0..<dOut {
                y[r * dOut + o] = Double(pairs.ys[r * dOut + o]) - (identity ? Double(pairs.xs[r * dIn + o]) : 0) - meanY[o]
            }
        }
        try context.checkCancelled()
        // Normal equations (XᵀX + λI) B = XᵀY, B = Wᵀ (or (W − I)ᵀ) of shape [dIn, dOut].
        var gram = [Double](repeating: 0, count: dIn * dIn)
        var rhs = [Double](repeating: 0, count: dIn * dOut)
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(dIn), Int32(n), 1, x, Int32(dIn), 0, &gram, Int32(dIn))
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(dIn), Int32(dOut), Int32(n), 1, x, Int32(dIn),
                    y, Int32(dOut), 0, &rhs, Int32(dOut))
        var trace = 0.0
        for i in 0..<dIn { trace += gram[i * dIn + i] }
        let lambda = max(ridge * trace / Double(dIn), 1e-9 * max(trace / Double(dIn), 1))
        for i in 0..<dIn { gram[i * dIn + i] += lambda }
        try context.checkCancelled()
        guard choleskyInPlace(&gram, size: dIn) else {
            throw AnalysisError.notEnoughFitData(samples: n, needed: minimumSamples)
        }
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, Int32(dIn), Int32(dOut), 1,
                    gram, Int32(dIn), &rhs, Int32(dOut))
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, Int32(dIn), Int32(dOut), 1,
                    gram, Int32(dIn), &rhs, Int32(dOut))
        var weight = [Float](repeating: 0, count: dOut * dIn)
        var bias = [Float](repeating: 0, count: dOut)
        for o in 0..<dOut {
            var b = meanY[o] + (identity ? meanX[o] : 0)
            for i in 0..<dIn {
                let w = rhs[i * dOut + o] + (identity && i == o ? 1 : 0)
                weight[o * dIn + i] = Float(w)
                b -= w * meanX[i]
            }
            bias[o] = Float(b)
        }
        var map = AffineMap(sourceLayer: 0, targetLayer: 0, inputDim: dIn, outputDim: dOut, weight: weight, bias: bias,
                            samples: n, heldOut: pairs.count - n, ridge: ridge, lambda: lambda, towardIdentity: identity)
        let scored = n < pairs.count ? n..<pairs.count : 0..<n
        (map.explainedVariance, map.meanCosine) = score(map, pairs, rows: scored)
        context.report(1, "fitted")
        return map
    }

    /// R² (one minus residual over total sum of squares about the rows' mean, over all dimensions)
    /// and the mean cosine between predicted and true targets, over `rows` of `pairs`.
    static func score(_ map: AffineMap, _ pairs: StatePairs, rows: Range<Int>) -> (r2: Double, cosine: Double) {
        let dIn = pairs.inputDim, dOut = pairs.outputDim
        guard !rows.isEmpty else { return (.nan, .nan) }
        let predicted = map.apply(rows: Array(pairs.xs[rows.lowerBound * dIn..<rows.upperBound * dIn]), count: rows.count)
        var mean = [Double](repeating: 0, count: dOut)
        for r in rows { for o in 0..<dOut { mean[o] += Double(pairs.ys[r * dOut + o]) } }
        for o in 0..<dOut { mean[o] /= Double(rows.count) }
        var residual = 0.0, total = 0.0, cosines = 0.0
        for (k, r) in rows.enumerated() {
            var dot = 0.0, pp = 0.0, yy = 0.0
            for o in 0..<dOut {
                let y = Double(pairs.ys[r * dOut + o]), p = Double(predicted[k * dOut + o])
                residual += (y - p) * (y - p)
                total += (y - mean[o]) * (y - mean[o])
                dot += y * p; pp += p * p; yy += y * y
            }
            cosines += pp > 0 && yy > 0 ? dot / (pp * yy).squareRoot() : 0
        }
        return (total > 0 ? 1 - residual / total : .nan, cosines / Double(rows.count))
    }
}

// MARK: - Pairs of states

/// Pairs of residual states of the same text: `xs[r]` from the source side, `ys[r]` from the
/// target side, grouped by text in order (so a split can hold whole texts out).
public struct StatePairs: Sendable {
    public var inputDim: Int
    public var outputDim: Int
    /// `[count, inputDim]`.
    public var xs: [Float]
    /// `[count, outputDim]`.
    public var ys: [Float]
    /// Pairs contributed by each text, in order.
    public var textRows: [Int]

    public var count: Int { textRows.reduce(0, +) }

    /// Rows of the first `texts` texts.
    func rowsOfFirst(texts: Int) -> Int { textRows.prefix(texts).reduce(0, +) }

    public init(inputDim: Int, outputDim: Int, xs: [Float] = [], ys: [Float] = [], textRows: [Int] = []) {
        self.inputDim = inputDim; self.outputDim = outputDim; self.xs = xs; self.ys = ys; self.textRows = textRows
    }

    /// One model, one tokenisation: position p of the source layer with position p of the target
    /// layer, every position but the first of each text.
    static func samePositions(_ states: [Int: [[Float]]], sourceLayer: Int, targetLayer: Int, tokenCounts: [Int],
                              width d: Int) -> StatePairs {
        var pairs = StatePairs(inputDim: d, outputDim: d)
        for (t, count) in tokenCounts.enumerated() {
            guard count > 1, let x = states[sourceLayer]?[t], let y = states[targetLayer]?[t] else { pairs.textRows.append(0); continue }
            pairs.xs += x[d...]
            pairs.ys += y[d...]
            pairs.textRows.append(count - 1)
        }
        return pairs
    }

    /// Pairs of two runs of the same text, perhaps through different tokenizers: `alignment[t]`
    /// lists the (source position, target position) pairs of text t.
    static func aligned(source: [[Float]], sourceWidth: Int, target: [[Float]], targetWidth: Int,
                        alignment: [[(Int, Int)]]) -> StatePairs {
        var pairs = StatePairs(inputDim: sourceWidth, outputDim: targetWidth)
        for (t, matches) in alignment.enumerated() {
            for (i, j) in matches {
                pairs.xs += source[t][i * sourceWidth..<(i + 1) * sourceWidth]
                pairs.ys += target[t][j * targetWidth..<(j + 1) * targetWidth]
            }
            pairs.textRows.append(matches.count)
        }
        return pairs
    }
}

// MARK: - Token alignment

/// Which tokens of two tokenisations of one text stand at the same place.
public enum TokenAlignment {
    /// The byte offset in the text at which each token ends. Control tokens (BOS) cover nothing;
    /// a space a SentencePiece encoder put in front of the text is not counted.
    public static func ends(of ids: [Int], tokenizer: Tokenizer, textBytes: Int) -> [Int] {
        var ends: [Int] = []
        var covered = 0
        for id in ids {
            if !tokenizer.isControl(Int32(id)) { covered += tokenizer.pieceBytes(Int32(id)).count }
            ends.append(covered)
        }
        let extra = max(0, covered - textBytes)
        return ends.map { max(0, $0 - extra) }
    }

    /// (i, j) for every token i of `a` and j of `b` that end at the same byte of the text, leaving
    /// out each side's first token (an attention sink) and control tokens.
    public static func pairs(_ a: [Int], _ tokenizerA: Tokenizer, _ b: [Int], _ tokenizerB: Tokenizer,
                             text: String) -> [(Int, Int)] {
        let bytes = text.utf8.count
        let endsA = ends(of: a, tokenizer: tokenizerA, textBytes: bytes)
        let endsB = ends(of: b, tokenizer: tokenizerB, textBytes: bytes)
        var firstB: [Int: Int] = [:]
        for (j, e) in endsB.enumerated() where j > 0 && !tokenizerB.isControl(Int32(b[j])) && firstB[e] == nil { firstB[e] = j }
        var used = Set<Int>()
        var out: [(Int, Int)] = []
        for (i, e) in endsA.enumerated() where i > 0 && !tokenizerA.isControl(Int32(a[i])) {
            guard let j = firstB[e], !used.contains(e) else { continue }
            used.insert(e)
            out.append((i, j))
        }
        return out
    }
}

// MARK: - Collecting states

/// `resid_post` of chosen layers over whole texts, one forward pass per text, stopping after the
/// deepest layer asked for.
public enum StateCollector {
    /// `states[layer][text]` is `[tokens, d_model]` of that text.
    public static func collect(model: Model, texts: [[Int]], layers: [Int], context: TaskContext = .none) throws -> [Int: [[Float]]] {
        let c = model.config
        try Check.layers(layers, c)
        let wanted = Set(layers)
        var states: [Int: [[Float]]] = [:]
        for l in wanted { states[l] = [] }
        for (t, text) in texts.enumerated() {
            try context.checkCancelled()
            guard !text.isEmpty else {
                for l in wanted { states[l]?.append([]) }
                continue
            }
            let hooks = HookSet()
            for l in wanted {
                hooks.add(.residPost(l)) { view in
                    var rows: [Float] = []
                    rows.reserveCapacity(view.positions * c.modelDim)
                    for p in 0..<view.positions { rows += view.row(batch: 0, position: p) }
                    states[l]?.append(rows)
                }
            }
            try model.run(text, hooks: hooks, through: wanted.max() ?? 0, context: TaskContext(isCancelled: { context.isCancelled }))
            context.report(Double(t + 1) / Double(texts.count), "text \(t + 1)/\(texts.count)")
        }
        return states
    }
}

/// Lower Cholesky factor of a symmetric positive-definite `[size, size]` matrix whose lower
/// triangle is filled, in place (the upper triangle is zeroed). False when not positive definite.
func choleskyInPlace(_ a: inout [Double], size n: Int) -> Bool {
    a.withUnsafeMutableBufferPointer { a in
        for j in 0..<n {
            var diagonal = a[j * n + j]
            for k in 0..<j { diagonal -= a[j * n + k] * a[j * n + k] }
            guard diagonal > 0, diagonal.isFinite else { return false }
            let root = diagonal.squareRoot()
            a[j * n + j] = root
            for i in (j + 1)..<max(n, j + 1) {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= a[i * n + k] * a[j * n + k] }
                a[i * n + j] = sum / root
            }
            for i in (j + 1)..<max(n, j + 1) { a[j * n + i] = 0 }
        }
        return true
    }
}

// MARK: - Paired runs of two models

/// The states of the same texts run through a source and a target model (or one model twice):
/// the layers asked for on each side and which tokens pair up. Fitting maps for many layer pairs
/// reads them all from these runs (one forward pass per text and side; one when the sides share
/// a model).
public struct PairedRuns: Sendable {
    public var sourceWidth: Int
    public var targetWidth: Int
    /// `[layer][text]` → `[tokens, width]`.
    public var sourceStates: [Int: [[Float]]]
    public var targetStates: [Int: [[Float]]]
    /// Per text, the (source position, target position) pairs.
    public var alignment: [[(Int, Int)]]
    /// Forward passes run to collect the states, and the tokens they read (both sides).
    public var forwardPasses: Int
    public var tokens: Int

    /// Runs `texts` through both sides. `sameModel` shares one pass per text.
    public static func collect(source: Model, sourceTokenizer: Tokenizer, sourceLayers: [Int],
                               target: Model, targetTokenizer: Tokenizer, targetLayers: [Int],
                               texts: [String], context: TaskContext = .none) throws -> PairedRuns {
        let same = source === target
        let sourceIDs = texts.map { sourceTokenizer.encode($0).map(Int.init) }
        let targetIDs = same ? sourceIDs : texts.map { targetTokenizer.encode($0).map(Int.init) }
        let alignment: [[(Int, Int)]] = texts.indices.map { t in
            same ? (1..<max(1, sourceIDs[t].count)).filter { !sourceTokenizer.isControl(Int32(sourceIDs[t][$0])) }.map { ($0, $0) }
                 : TokenAlignment.pairs(sourceIDs[t], sourceTokenizer, targetIDs[t], targetTokenizer, text: texts[t])
        }
        if same {
            let states = try StateCollector.collect(model: source, texts: sourceIDs, layers: Array(Set(sourceLayers + targetLayers)),
                                                    context: context)
            return PairedRuns(sourceWidth: source.config.modelDim, targetWidth: source.config.modelDim,
                              sourceStates: states, targetStates: states, alignment: alignment,
                              forwardPasses: texts.count, tokens: sourceIDs.reduce(0) { $0 + $1.count })
        }
        let sourceStates = try StateCollector.collect(model: source, texts: sourceIDs, layers: sourceLayers,
                                                      context: context.stage(0, of: 2, label: "source model"))
        let targetStates = try StateCollector.collect(model: target, texts: targetIDs, layers: targetLayers,
                                                      context: context.stage(1, of: 2, label: "target model"))
        return PairedRuns(sourceWidth: source.config.modelDim, targetWidth: target.config.modelDim,
                          sourceStates: sourceStates, targetStates: targetStates, alignment: alignment,
                          forwardPasses: 2 * texts.count, tokens: (sourceIDs + targetIDs).reduce(0) { $0 + $1.count })
    }

    /// The pairs of one source layer and one target layer.
    public func pairs(sourceLayer: Int, targetLayer: Int) -> StatePairs {
        StatePairs.aligned(source: sourceStates[sourceLayer] ?? [], sourceWidth: sourceWidth,
                           target: targetStates[targetLayer] ?? [], targetWidth: targetWidth, alignment: alignment)
    }

    /// The map from `sourceLayer` to `targetLayer`, fitted on the first `split` of the texts.
    public func fit(sourceLayer: Int, targetLayer: Int, ridge: Double, split: Double,
                    context: TaskContext = .none) throws -> AffineMap {
        var map = try AffineMap.solve(pairs(sourceLayer: sourceLayer, targetLayer: targetLayer), ridge: ridge, split: split,
                                      context: context)
        map.sourceLayer = sourceLayer
        map.targetLayer = targetLayer
        return map
    }
}
