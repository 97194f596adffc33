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

/// The panel kernel for large batches against the F32 copy and double-precision products.
final class PanelProductTests: XCTestCase {
    /// Each k-major panel holds exactly the F32 copy's weights (Q4_1 blocks and the Q8_0 output).
    func testPanelsAreBitIdenticalToTheF32Copy() throws {
        let model = try ModelFixture.model()
        let matrices = [model.weights.blocks[0].wq, model.weights.blocks[7].wDown, model.weights.blocks[29].wk, model.weights.output]
        for w in matrices {
            guard w.hasPanelKernel, let f32 = w.f32 else { throw XCTSkip("needs interleaved blocks (AVX2 build) and an F32 copy") }
            for p in [0, 1, w.rows / panelRows - 1] {
                var panel = [Float](repeating: .nan, count: panelRows * w.cols)
                panel.withUnsafeMutableBufferPointer { w.dequantizePanel(p, into: $0.baseAddress!) }
                var mismatches = 0
                for k in 0..<w.cols {
                    for r in 0..<panelRows {
                        let copy: Float = f32[(p * panelRows + r) * w.cols + k]
                        if panel[k * panelRows + r] != copy { mismatches += 1 }
                    }
                }
                XCTAssertEqual(mismatches, 0, "\(w.name) panel \(p)")
            }
        }
    }

    /// Batches with every remainder of the 6-row tile, split in parts or not, for one matrix and a
    /// q/k/v group, against sums in double over the F32 copy.
    func testProductMatchesDoublePrecision() throws {
        let model = try ModelFixture.model()
        let block = model.weights.blocks[5]
        let groups = [[block.wq, block.wk, block.wv], [block.wDown]]
        for ws in groups {
            guard ws.allSatisfy(\.hasPanelKernel), ws.allSatisfy({ $0.f32 != nil }) else { throw XCTSkip("needs interleaved blocks and F32 copies") }
            let cols = ws[0].cols
            for n in [1, 6, 64, 65, 71, 97, 150] {
                let x = (0..<n * cols).map { Float(sin(Double($0) * 0.7 + 0.3)) }
                var outs = ws.map { [Float](repeating: .nan, count: n * $0.rows) }
                x.withUnsafeBufferPointer { xp in
                    var pointers: [UnsafeMutablePointer<Float>] = []
                    for m in ws.indices { pointers.append(UnsafeMutablePointer<Float>.allocate(capacity: n * ws[m].rows)) }
                    panelProduct(pointers, xp.baseAddress!, ws, n: n)
                    for m in ws.indices {
                        outs[m] = Array(UnsafeBufferPointer(start: pointers[m], count: n * ws[m].rows))
                        pointers[m].deallocate()
                    }
                }
                for (m, w) in ws.enumerated() {
                    let f32 = w.f32!
                    var worst = 0.0
                    for i in 0..<n { for r in 0..<w.rows {
                        var ref = 0.0, scale = 0.0
                        for k in 0..<cols {
                            let t = Double(x[i * cols + k]) * Double(f32[r * cols + k])
                            ref += t; scale += abs(t)
                        }
                        worst = max(worst, abs(Double(outs[m][i * w.rows + r]) - ref) / max(scale, 1e-30))
                    } }
                    XCTAssertLessThan(worst, 1e-6, "\(w.name), n \(n)")
                }
            }
        }
    }

    /// A product through `matmul` above the threshold takes the panel path and agrees with the
    /// dot-product kernel below it.
    func testMatmulAboveTheThresholdAgreesWithTheDotKernel() throws {
        let model = try ModelFixture.model()
        let w = model.weights.blocks[11].wUp
        guard w.hasPanelKernel else { throw XCTSkip("needs interleaved blocks") }
        let n = panelProductMinRows + 35                             // a 5-row remainder on the panel path
        let x = (0..<n * w.cols).map { Float(cos(Double($0) * 0.31)) }
        var panel = [Float](repeating: .nan, count: n * w.rows), dot = panel
        x.withUnsafeBufferPointer { xp in
            panel.withUnsafeMutableBufferPointer { matmul($0.baseAddress!, xp.baseAddress!, w, n: n) }
            dot.withUnsafeMutableBufferPointer { gemmQ4_1($0.baseAddress!, xp.baseAddress!, n: n, w) }
        }
        XCTAssertLessThan(zip(panel, dot).map { abs($0 - $1) / max(1, abs($1)) }.max()!, 1e-5)
    }
}
