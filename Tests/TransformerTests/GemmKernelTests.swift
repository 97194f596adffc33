import CKernels
import Foundation
import XCTest
@testable import Transformer

/// The prompt-path kernels against plain double-precision arithmetic.
final class GemmKernelTests: XCTestCase {
    /// The F32 register-tile kernel over shapes that exercise every remainder (rows off the tile,
    /// activation rows off the tile, columns off the vector), at every level.
    func testF32ProductMatchesDoublePrecision() {
        for (n, rows, cols) in [(1, 7, 8), (5, 11, 16), (32, 576, 576), (13, 97, 1536), (130, 40, 64), (6, 9, 45)] {
            var x = [Float](repeating: 0, count: n * cols), w = [Float](repeating: 0, count: rows * cols)
            for i in x.indices { x[i] = Float(sin(Double(i) * 0.37 + 1)) }
            for i in w.indices { w[i] = Float(cos(Double(i) * 0.13)) * 0.5 }
            for level in 0...pk_best_level() {
                var out = [Float](repeating: .nan, count: n * rows)
                x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { op in
                    pk_gemm_f32(Int32(level), xp.baseAddress!, Int32(n), wp.baseAddress!, Int32(rows), Int32(cols), op.baseAddress!, rows)
                } } }
                var worst = 0.0
                for i in 0..<n { for r in 0..<rows {
                    var ref = 0.0, scale = 0.0
                    for k in 0..<cols { ref += Double(x[i * cols + k]) * Double(w[r * cols + k]); scale += abs(Double(x[i * cols + k]) * Double(w[r * cols + k])) }
                    worst = max(worst, abs(Double(out[i * rows + r]) - ref) / max(scale, 1e-30))
                } }
                XCTAssertLessThan(worst, 1e-6, "level \(level), n \(n), \(rows)×\(cols)")
            }
        }
    }

    /// exp8 (used by SwiGLU) within a few ulp of libm across the range silu and softmax see.
    func testVectorExpMatchesLibm() {
        var worst = 0.0
        var v: Float = -87
        while v < 88 {
            let lanes = SIMD8<Float>((0..<8).map { v + Float($0) * 0.0137 })
            let e = exp8(lanes)
            for j in 0..<8 {
                let ref = Foundation.exp(Double(lanes[j]))
                worst = max(worst, abs(Double(e[j]) - ref) / ref)
            }
            v += 0.173
        }
        XCTAssertLessThan(worst, 4e-7)
        XCTAssertEqual(exp8(SIMD8(repeating: 0))[0], 1)
        XCTAssertFalse(exp8(SIMD8(repeating: -1000))[0].isNaN)
        XCTAssertTrue(exp8(SIMD8(repeating: 1000))[0].isFinite)
    }

    /// SwiGLU's vector body and scalar tail agree with silu(g)·u computed in double.
    func testSwigluMatchesDefinition() {
        let count = 8 * 5 + 3
        let g = (0..<count).map { Float($0 - 20) * 0.7 }, u = (0..<count).map { Float(sin(Double($0))) }
        var out = [Float](repeating: 0, count: count)
        g.withUnsafeBufferPointer { gp in u.withUnsafeBufferPointer { up in out.withUnsafeMutableBufferPointer { op in
            swiglu(op.baseAddress!, gp.baseAddress!, up.baseAddress!, count: count)
        } } }
        for i in 0..<count {
            let ref = Double(g[i]) / (1 + Foundation.exp(-Double(g[i]))) * Double(u[i])
            XCTAssertEqual(Double(out[i]), ref, accuracy: 1e-6 * max(1, abs(ref)), "element \(i)")
        }
    }
}
