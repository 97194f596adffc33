import COpenBLAS
import Foundation
import Transformer

// MARK: - Affine map between layers

/// `y = W·x + b`, fitted by (ridge-regularised) least squares from the `resid_post` states of one
/// layer to those of another over a text sample — the learned mapping of the Patchscopes paper,
/// used to patch a state into a different layer than it came from.
public struct AffineMap: Sendable, Equatable {
    public var sourceLayer: Int
    public var targetLayer: Int
    public var inputDim: Int
    public var outputDim: Int
    /// `[outputDim, inputDim]`, row-major.
    public var weight: [Float]
    /// `[outputDim]`.
    public var bias: [Float]
    /// Token positions the map was fitted on.
    public var samples: Int
    /// Share of the target states' variance the map explains on its fitting data (R²).
    public var explainedVariance: Double

    public init(sourceLayer: Int, targetLayer: Int, inputDim: Int, outputDim: Int, weight: [Float], bias: [Float],
                samples: Int = 0, explainedVariance: Double = .nan) {
        self.sourceLayer = sourceLayer
        self.targetLayer = targetLayer
        self.inputDim = inputDim
        self.outputDim = outputDim
        self.weight = weight
        self.bias = bias
        self.samples = samples
        self.explainedVariance = explainedVariance
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

    /// Fewest token positions a fit accepts.
    public static let minimumSamples = 32

    /// Fits the map from `resid_post` of `sourceLayer` to `resid_post` of `targetLayer` over every
    /// position but the first of each text (the first token's state is an outlier — an attention
    /// sink — that would dominate the squares). `ridge` is relative to the mean input second
    /// moment and shrinks the map toward the identity.
    public static func fit(model: Model, texts: [[Int]], sourceLayer: Int, targetLayer: Int, ridge: Double = 1e-2,
                           context: TaskContext = .none) throws -> AffineMap {
        let c = model.config
        try Check.layer(sourceLayer, c)
        try Check.layer(targetLayer, c)
        guard ridge >= 0, ridge.isFinite else {
            throw AnalysisError.numberOutOfRange(name: "ridge", value: Double(ridge), domain: .nonNegative, example: nil)
        }
        let d = c.modelDim
        var xs: [Float] = []   // [N, d]
        var ys: [Float] = []   // [N, d]
        for (i, text) in texts.enumerated() where text.count > 1 {
            try context.checkCancelled()
            let hooks = HookSet()
            hooks.add(.residPost(sourceLayer)) { view in
                for t in 1..<view.positions { xs += view.row(batch: 0, position: t) }
            }
            hooks.add(.residPost(targetLayer)) { view in
                for t in 1..<view.positions { ys += view.row(batch: 0, position: t) }
            }
            try model.run(text, hooks: hooks, through: max(sourceLayer, targetLayer),
                              context: context.stage(i, of: texts.count + 1, label: "text \(i + 1)/\(texts.count)"))
        }
        let n = xs.count / d
        guard n >= minimumSamples else { throw AnalysisError.notEnoughFitData(samples: n, needed: minimumSamples) }

        // The residual stream mostly carries a state forward, so fit the change: W = I + Δ, with
        // Δ from the normal equations (AᵀA + λI') Δ = Aᵀ(Y − X), A = [X 1] of shape [N, d+1].
        // The ridge then shrinks toward the identity, not toward zero, when text is scarce.
        let m = d + 1
        var a = [Double](repeating: 1, count: n * m)          // [N, d+1]
        var y = [Double](repeating: 0, count: n * d)          // [N, d]
        for r in 0..<n {
            for i in 0..<d { a[r * m + i] = Double(xs[r * d + i]); y[r * d + i] = Double(ys[r * d + i] - xs[r * d + i]) }
        }
        var gram = [Double](repeating: 0, count: m * m)       // [d+1, d+1] = AᵀA
        var rhs = [Double](repeating: 0, count: m * d)        // [d+1, d]   = AᵀY
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(m), Int32(n), 1, a, Int32(m), a, Int32(m), 0, &gram, Int32(m))
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(d), Int32(n), 1, a, Int32(m), y, Int32(d), 0, &rhs, Int32(d))
        var trace = 0.0
        for i in 0..<d { trace += gram[i * m + i] }
        let lambda = max(ridge * trace / Double(d), 1e-9)
        for i in 0..<d { gram[i * m + i] += lambda }          // the bias is not shrunk
        try context.checkCancelled()
        guard choleskyInPlace(&gram, size: m) else {
            throw AnalysisError.notEnoughFitData(samples: n, needed: minimumSamples)
        }
        // Solve L·Lᵀ·W = AᵀY: two triangular solves.
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, Int32(m), Int32(d), 1, gram, Int32(m), &rhs, Int32(d))
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, Int32(m), Int32(d), 1, gram, Int32(m), &rhs, Int32(d))
        // rhs is now [d+1, d]: rows 0..<d are Wᵀ, row d the bias.
        var weight = [Float](repeating: 0, count: d * d)
        var bias = [Float](repeating: 0, count: d)
        for o in 0..<d {
            for i in 0..<d { weight[o * d + i] = Float(rhs[i * d + o]) + (o == i ? 1 : 0) }
            bias[o] = Float(rhs[d * d + o])
        }
        var map = AffineMap(sourceLayer: sourceLayer, targetLayer: targetLayer, inputDim: d, outputDim: d,
                            weight: weight, bias: bias, samples: n)
        map.explainedVariance = rSquared(map, xs: xs, ys: ys, d: d)
        context.report(1, "fitted")
        return map
    }

    /// 1 − residual / total sum of squares of `ys` under the map.
    static func rSquared(_ map: AffineMap, xs: [Float], ys: [Float], d: Int) -> Double {
        let n = xs.count / d
        guard n > 0 else { return .nan }
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for i in 0..<d { mean[i] += Double(ys[r * d + i]) } }
        for i in 0..<d { mean[i] /= Double(n) }
        var residual = 0.0, total = 0.0
        for r in 0..<n {
            let predicted = map.apply(Array(xs[r * d..<(r + 1) * d]))
            for i in 0..<d {
                let y = Double(ys[r * d + i])
                residual += (y - Double(predicted[i])) * (y - Double(predicted[i]))
                total += (y - mean[i]) * (y - mean[i])
            }
        }
        return total > 0 ? 1 - residual / total : .nan
    }
}

/// Lower Cholesky factor of a symmetric positive-definite `[size, size]` matrix, in place (the
/// upper triangle is zeroed). False when the matrix is not positive definite.
func choleskyInPlace(_ a: inout [Double], size n: Int) -> Bool {
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
