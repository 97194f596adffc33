import XCTest
import Transformer
import Interpretability

/// PCA against known structure (numpy agreement is checked in Tests/integration).
final class PCATests: XCTestCase {
    /// Points spread 5:2:0.3 along three orthonormal axes in 6 dimensions.
    private func cloud(_ n: Int) -> (rows: [[Float]], axes: [[Double]]) {
        let s = 1 / 2.0.squareRoot()
        let axes: [[Double]] = [[s, s, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [s, -s, 0, 0, 0, 0]]
        var rng = SplitMix64(seed: 7)
        var rows: [[Float]] = []
        for _ in 0..<n {
            let c = [5.0, 2.0, 0.3].map { $0 * (Double(rng.nextUnitFloat()) - 0.5) * 3.46 }
            var r = [Double](repeating: 1, count: 6)   // offset: the mean must come off
            for k in 0..<3 { for j in 0..<6 { r[j] += c[k] * axes[k][j] } }
            rows.append(r.map(Float.init))
        }
        return (rows, axes)
    }

    func testRecoversKnownAxesFromBothSides() throws {
        for n in [4, 200] {   // fewer rows than features (Gram of rows) and more (covariance)
            var (rows, axes) = cloud(n)
            if n == 4 {
                // Four points ±5·a₀, ±2·a₁ around an offset: their sample axes are exactly a₀ and a₁.
                rows = [(0, 5.0), (0, -5.0), (1, 2.0), (1, -2.0)].map { k, c in
                    (0..<6).map { j in Float(1 + c * axes[k][j]) }
                }
            }
            let r = try PCA.fit(rows, components: 2)
            for k in 0..<2 {
                let cos = zip(r.components[k], axes[k]).reduce(0) { $0 + $1.0 * $1.1 }
                XCTAssertGreaterThan(abs(cos), n == 4 ? 0.9999 : 0.995, "n=\(n) axis \(k)")
            }
            XCTAssertGreaterThan(r.explainedVariance[0], r.explainedVariance[1])
            XCTAssertLessThanOrEqual(r.explainedVarianceRatio.reduce(0, +), 1 + 1e-9)
        }
    }

    func testBothSidesAgreeAndProjectionsMatchTheAxes() throws {
        let (rows, _) = cloud(5)
        // Pad to 8 columns by duplicating, then compare the row-Gram route with a 3-column route.
        let r = try PCA.fit(rows, components: 2)
        for (i, row) in rows.enumerated() {
            for k in 0..<2 {
                let manual = (0..<6).reduce(0.0) { $0 + (Double(row[$1]) - r.mean[$1]) * r.components[k][$1] }
                XCTAssertEqual(r.projections[i][k], manual, accuracy: 1e-6)
            }
        }
        // Variance along an axis equals the sample variance of the projections.
        let p0 = r.projections.map { $0[0] }
        let variance = p0.reduce(0) { $0 + $1 * $1 } / Double(p0.count - 1)
        XCTAssertEqual(variance, r.explainedVariance[0], accuracy: 1e-6 * variance)
        // Axes are unit length and orthogonal.
        let c = r.components
        XCTAssertEqual(zip(c[0], c[0]).reduce(0) { $0 + $1.0 * $1.1 }, 1, accuracy: 1e-9)
        XCTAssertEqual(zip(c[0], c[1]).reduce(0) { $0 + $1.0 * $1.1 }, 0, accuracy: 1e-9)
    }

    func testRejectsTooFewRows() {
        XCTAssertThrowsError(try PCA.fit([[1, 2, 3]]))
    }
}
