import Foundation
import XCTest
@testable import Transformer

/// The decode kernels (GGUF blocks and the row-interleaved repack) against double-precision
/// products over the dequantised weights.
final class QuantKernelsTests: XCTestCase {
    /// out[n, rows] = x · Wᵀ in double precision over the F32 copy.
    private func reference(_ w: WeightMatrix, _ x: [Float], n: Int) -> [Float] {
        var out = [Float](repeating: 0, count: n * w.rows)
        for i in 0..<n {
            for r in 0..<w.rows {
                var sum = 0.0
                for c in 0..<w.cols { sum += Double(w.f32![r * w.cols + c]) * Double(x[i * w.cols + c]) }
                out[i * w.rows + r] = Float(sum)
            }
        }
        return out
    }

    func testSeveralRowsAndEveryShapeMatchF32Products() throws {
        let model = try ModelFixture.model()
        let block = model.weights.blocks[7]
        // q (576 × 576), k (192 rows), down (1536 columns), and the Q8_0 tied output (49152 rows).
        for w in [block.wq, block.wk, block.wDown, model.weights.output] {
            XCTAssertEqual(w.interleaved != nil, kernelsUseInterleavedBlocks, w.name)
            let n = 3
            // Mixed signs and magnitudes, so a wrong lane order or nibble cannot cancel out.
            let x = (0..<(n * w.cols)).map { Float(sin(Double($0) * 0.61)) * Float(1 + $0 % 7) }
            var direct = [Float](repeating: 0, count: n * w.rows)
            x.withUnsafeBufferPointer { xp in
                direct.withUnsafeMutableBufferPointer { w.matvec($0.baseAddress!, xp.baseAddress!, n: n) }
            }
            XCTAssertLessThanOrEqual(relativeError(direct, reference(w, x, n: n)), 2e-6, w.name)
        }
    }

    func testRangesOffTheGroupGridUseTheGGUFBlocks() throws {
        let model = try ModelFixture.model()
        let w = model.weights.blocks[2].wUp
        let x = (0..<w.cols).map { Float(cos(Double($0) * 0.29)) }
        var out = [Float](repeating: .nan, count: w.rows)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { o in
                let input = KernelInput(xp.baseAddress!, n: 1, cols: w.cols)
                // 0..<13 and 13..<rows: neither ends on a group of 8, so both take the GGUF path.
                w.matvecRows(o.baseAddress!, input, 0..<13)
                w.matvecRows(o.baseAddress!, input, 13..<w.rows)
            }
        }
        XCTAssertLessThanOrEqual(relativeError(out, reference(w, x, n: 1)), 2e-6)
    }
}
