import Foundation

// MARK: - Principal component analysis

/// The principal components of a set of rows.
public struct PCAResult: Sendable, Equatable {
    /// The mean row that was subtracted.
    public var mean: [Double]
    /// Unit-length principal axes, strongest first (k × d).
    public var components: [[Double]]
    /// Variance along each axis (eigenvalues of the covariance, n − 1 denominator, as numpy/sklearn).
    public var explainedVariance: [Double]
    /// Each axis's share of the total variance.
    public var explainedVarianceRatio: [Double]
    /// The rows projected on the axes (n × k).
    public var projections: [[Double]]
}

/// PCA through a symmetric eigendecomposition (cyclic Jacobi rotations) of the smaller of the two
/// Gram matrices: XcXcᵀ (n × n) when there are fewer rows than features, else XcᵀXc (d × d). Signs
/// are fixed so that each axis's largest-magnitude coordinate is positive (as sklearn's svd_flip does
/// for the projections' counterpart), making results comparable across implementations up to that rule.
public enum PCA {
    public static func fit(_ rows: [[Float]], components k: Int = 2) throws -> PCAResult {
        let n = rows.count
        guard n >= 2 else { throw AnalysisError.tooFewVectors(count: n, needed: 2) }
        let d = rows[0].count
        guard rows.allSatisfy({ $0.count == d }) else {
            throw AnalysisError.widthMismatch(expected: d, found: rows.first { $0.count != d }?.count ?? d)
        }
        guard k >= 1 else { throw AnalysisError.intOutOfRange(name: "components", value: k, lowest: 1, highest: nil) }
        var mean = [Double](repeating: 0, count: d)
        for r in rows { for j in 0..<d { mean[j] += Double(r[j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var x = [Double](repeating: 0, count: n * d)   // [n, d] centred
        for i in 0..<n { for j in 0..<d { x[i * d + j] = Double(rows[i][j]) - mean[j] } }

        let useRows = n <= d
        let m = useRows ? n : d
        var a = [Double](repeating: 0, count: m * m)   // the Gram matrix, [m, m]
        if useRows {
            for i in 0..<n { for j in i..<n {
                var s = 0.0
                for t in 0..<d { s += x[i * d + t] * x[j * d + t] }
                a[i * n + j] = s; a[j * n + i] = s
            } }
        } else {
            for i in 0..<n { for p in 0..<d {
                let xp = x[i * d + p]
                if xp == 0 { continue }
                for q in p..<d { a[p * d + q] += xp * x[i * d + q] }
            } }
            for p in 0..<d { for q in 0..<p { a[p * d + q] = a[q * d + p] } }
        }
        let (values, vectors) = jacobiEigen(a, size: m)
        let order = values.indices.sorted { values[$0] > values[$1] }
        let total = values.reduce(0) { $0 + max($1, 0) }
        let kept = Array(order.prefix(min(k, m)))

        var components: [[Double]] = [], variance: [Double] = []
        for e in kept {
            let lambda = max(values[e], 0)
            var axis = [Double](repeating: 0, count: d)
            if useRows {
                // v = Xcᵀu / √λ maps a Gram eigenvector u to the feature-space axis.
                let norm = lambda > 0 ? 1 / lambda.squareRoot() : 0
                for i in 0..<n { let u = vectors[i * m + e]; for j in 0..<d { axis[j] += x[i * d + j] * u * norm } }
            } else {
                for j in 0..<d { axis[j] = vectors[j * m + e] }
            }
            // A deterministic sign: the largest-magnitude coordinate is positive.
            if let big = axis.indices.max(by: { abs(axis[$0]) < abs(axis[$1]) }), axis[big] < 0 {
                for j in 0..<d { axis[j] = -axis[j] }
            }
            components.append(axis)
            variance.append(lambda / Double(n - 1))
        }
        let projections = (0..<n).map { i in components.map { axis in
            var s = 0.0
            for j in 0..<d { s += x[i * d + j] * axis[j] }
            return s
        } }
        return PCAResult(mean: mean, components: components, explainedVariance: variance,
                         explainedVarianceRatio: variance.map { total > 0 ? $0 * Double(n - 1) / total : 0 },
                         projections: projections)
    }

    /// Eigenvalues and eigenvectors (columns of an m × m row-major matrix) of a symmetric matrix by
    /// cyclic Jacobi rotations, until the off-diagonal mass is negligible.
    static func jacobiEigen(_ input: [Double], size m: Int) -> (values: [Double], vectors: [Double]) {
        var a = input
        var v = [Double](repeating: 0, count: m * m)
        for i in 0..<m { v[i * m + i] = 1 }
        let scale = max(a.reduce(0) { $0 + $1 * $1 }, 1e-300)
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<m { for q in (p + 1)..<max(m, p + 1) { off += a[p * m + q] * a[p * m + q] } }
            if off <= 1e-26 * scale { break }
            for p in 0..<m {
                for q in (p + 1)..<max(m, p + 1) {
                    let apq = a[p * m + q]
                    if abs(apq) < 1e-300 { continue }
                    let theta = (a[q * m + q] - a[p * m + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    // A ← JᵀAJ on rows/columns p and q.
                    for r in 0..<m {
                        let arp = a[r * m + p], arq = a[r * m + q]
                        a[r * m + p] = c * arp - s * arq
                        a[r * m + q] = s * arp + c * arq
                    }
                    for r in 0..<m {
                        let apr = a[p * m + r], aqr = a[q * m + r]
                        a[p * m + r] = c * apr - s * aqr
                        a[q * m + r] = s * apr + c * aqr
                    }
                    for r in 0..<m {
                        let vrp = v[r * m + p], vrq = v[r * m + q]
                        v[r * m + p] = c * vrp - s * vrq
                        v[r * m + q] = s * vrp + c * vrq
                    }
                }
            }
        }
        return ((0..<m).map { a[$0 * m + $0] }, v)
    }
}
