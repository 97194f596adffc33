import Foundation
import XCTest
@testable import Transformer

/// The prompt-path kernels against plain double-precision arithmetic.
final class GemmKernelTests: XCTestCase {
    /// gemmUnpacked over shapes that exercise every remainder: rows not a multiple of the 3-row
    /// tile or of the L2 block, activation rows not a multiple of 4, one row.
    func testUnpackedProductMatchesDoublePrecision() {
        for (n, rows, cols) in [(1, 7, 8), (5, 11, 16), (32, 576, 576), (13, 97, 1536), (130, 40, 64)] {
            var x = [Float](repeating: 0, count: n * cols), w = [Float](repeating: 0, count: rows * cols)
            for i in x.indices { x[i] = Float(sin(Double(i) * 0.37 + 1)) }
            for i in w.indices { w[i] = Float(cos(Double(i) * 0.13)) * 0.5 }
            var out = [Float](repeating: .nan, count: n * rows)
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { op in
                gemmUnpacked(op.baseAddress!, xp.baseAddress!, n: n, wp.baseAddress!, rows: rows, cols: cols)
            } } }
            var worst = 0.0
            for i in 0..<n { for r in 0..<rows {
                var ref = 0.0, scale = 0.0
                for k in 0..<cols { ref += Double(x[i * cols + k]) * Double(w[r * cols + k]); scale += abs(Double(x[i * cols + k]) * Double(w[r * cols + k])) }
                worst = max(worst, abs(Double(out[i * rows + r]) - ref) / max(scale, 1e-30))
            } }
            XCTAssertLessThan(worst, 1e-6, "n \(n), \(rows)×\(cols)")
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

/// The on-the-fly Q4_1 path against the F32 copy it replaces for prompt-sized batches.
final class GemmQ4_1Tests: XCTestCase {
    func testDequantisedRowsAreBitIdenticalToTheF32Copy() throws {
        let model = try ModelFixture.model()
        for w in [model.weights.blocks[0].wq, model.weights.blocks[7].wDown, model.weights.blocks[29].wUp] {
            guard w.type == .q4_1, let f32 = w.f32 else { throw XCTSkip("needs Q4_1 weights with an F32 copy") }
            var rows = [Float](repeating: .nan, count: 5 * w.cols)
            rows.withUnsafeMutableBufferPointer { dequantizeQ4_1Rows(w, 10..<15, into: $0.baseAddress!) }
            XCTAssertEqual(rows, Array(UnsafeBufferPointer(start: f32 + 10 * w.cols, count: 5 * w.cols)), w.name)
        }
    }

    func testProductMatchesTheF32Product() throws {
        let model = try ModelFixture.model()
        let w = model.weights.blocks[3].wGate
        guard w.type == .q4_1, let f32 = w.f32 else { throw XCTSkip("needs Q4_1 weights with an F32 copy") }
        for n in [5, 32, 37] {
            let x = (0..<n * w.cols).map { Float(sin(Double($0) * 0.7)) }
            var a = [Float](repeating: .nan, count: n * w.rows), b = a
            x.withUnsafeBufferPointer { xp in
                a.withUnsafeMutableBufferPointer { gemmQ4_1($0.baseAddress!, xp.baseAddress!, n: n, w) }
                b.withUnsafeMutableBufferPointer { gemmUnpacked($0.baseAddress!, xp.baseAddress!, n: n, f32, rows: w.rows, cols: w.cols) }
            }
            XCTAssertEqual(a, b, "n \(n)")   // same weights, same kernel, same order: identical
        }
    }
}
